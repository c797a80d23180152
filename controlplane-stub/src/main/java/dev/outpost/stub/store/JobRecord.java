package dev.outpost.stub.store;

import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.Variable;
import java.time.Instant;
import java.util.List;

/**
 * A stored job: the operator-visible view plus what only the control plane sees (variable
 * values, the current lease). Immutable; the store replaces it on every change.
 */
public record JobRecord(Job view, List<Variable> variables, String leaseId, String leaseAgentId,
    Instant leaseExpiresAt, long lastLogSeq) {

  public JobRecord {
    variables = List.copyOf(variables);
  }

  public String id() {
    return view.getId();
  }

  public boolean terminal() {
    return isTerminal(view.getStatus());
  }

  public static boolean isTerminal(JobStatus status) {
    return switch (status) {
      case JOB_STATUS_SUCCEEDED, JOB_STATUS_FAILED, JOB_STATUS_CANCELLED,
          JOB_STATUS_INTERRUPTED -> true;
      default -> false;
    };
  }

  public JobRecord withView(Job newView) {
    return new JobRecord(newView, variables, leaseId, leaseAgentId, leaseExpiresAt, lastLogSeq);
  }

  public JobRecord withLease(String id, String agentId, Instant expiresAt) {
    return new JobRecord(view, variables, id, agentId, expiresAt, lastLogSeq);
  }

  public JobRecord withLastLogSeq(long seq) {
    return new JobRecord(view, variables, leaseId, leaseAgentId, leaseExpiresAt, seq);
  }
}
