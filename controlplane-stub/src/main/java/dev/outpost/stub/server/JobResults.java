package dev.outpost.stub.server;

import dev.outpost.proto.Payloads;
import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.CompleteJobResponse;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobOutcome;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.stub.store.JobRecord;
import dev.outpost.stub.store.WorkspaceRecord;
import io.grpc.Status;
import io.grpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stores a job's final result, once: the first CompleteJob wins, identical repeats are
 * acknowledged again, a different result for a finished job is refused. A state is adopted as
 * the workspace's current state only when its lineage matches and its serial does not go back;
 * otherwise it is kept with the job, aside, and never thrown away.
 */
final class JobResults {
  private static final Logger log = LoggerFactory.getLogger(JobResults.class);

  private final ControlPlane plane;

  JobResults(ControlPlane plane) {
    this.plane = plane;
  }

  CompleteJobResponse complete(Principal caller, CompleteJobRequest request)
      throws StatusException {
    synchronized (plane) {
      JobRecord job = plane.checkLease(caller, request.getLease(), true);
      // A job the control plane gave up on (lease expired) has no result of the agent's yet:
      // the one arriving now is stored, flagged late. Any other finished job has one.
      boolean late = job.terminal()
          && job.view().getOutcome() == JobOutcome.JOB_OUTCOME_UNSPECIFIED;
      if (job.terminal() && !late) {
        return repeat(job, request);
      }
      if (request.getOutcome() == JobOutcome.JOB_OUTCOME_UNSPECIFIED) {
        throw Status.INVALID_ARGUMENT.withDescription("the result has no outcome").asException();
      }
      String owner = ControlPlane.jobOwner(job.id());
      byte[] state = uploaded(owner, request.getState(), PayloadKind.PAYLOAD_KIND_STATE);
      uploaded(owner, request.getPlanFile(), PayloadKind.PAYLOAD_KIND_PLAN_FILE);
      uploaded(owner, request.getPlanJson(), PayloadKind.PAYLOAD_KIND_PLAN_JSON);

      Job.Builder view = job.view().toBuilder()
          .setStatus(status(request.getOutcome())).setOutcome(request.getOutcome())
          .setFinishedAt(ControlPlane.timestamp(plane.now()))
          .setErrorMessage(request.getErrorMessage())
          .clearOutputs().addAllOutputs(request.getOutputsList())
          .clearResources().addAllResources(request.getResourcesList())
          .setChanges(request.getChanges())
          .clearResourceChanges().addAllResourceChanges(request.getResourceChangesList())
          .setPlanFile(request.getPlanFile()).setPlanJson(request.getPlanJson())
          .setLastLogSeq(request.getLastLogSeq())
          .setRedactedCount(request.getRedactedCount()).clearPendingReason().setLate(late);
      if (request.hasTemplate()) {
        view.setTemplate(request.getTemplate());
      }
      boolean keptAside = false;
      if (state != null) {
        plane.store().putPayload(owner, PayloadKind.PAYLOAD_KIND_STATE.name(), state);
        view.setState(request.getState());
        StateInfo next = null;
        try {
          next = StateInfo.parse(state);
        } catch (IllegalArgumentException e) {
          // A state Terraform left half-written is still the only record of what exists: it is
          // kept with the job for an operator, never adopted and never refused.
          log.warn("job {}: the delivered state cannot be read ({}); kept aside", job.id(),
              e.getMessage());
        }
        if (next != null) {
          view.setStateSerial(next.serial()).setStateLineage(next.lineage());
        }
        keptAside = next == null || !adopt(job, state, next);
        view.setStateKeptAside(keptAside);
      }
      Job stored = view.build();
      JobRecord done = plane.store().updateJob(job.id(), j -> j.withView(stored)
          .withLastLogSeq(request.getLastLogSeq())).orElseThrow();
      if (!late) {
        plane.release(done);
      }
      plane.signalLogs();
      plane.audit("job.completed", caller, job.id(), request.getOutcome().name());
      log.info("job {} finished: {}{}", job.id(), request.getOutcome(),
          keptAside ? " (state kept aside)" : "");
      return CompleteJobResponse.newBuilder().setAcknowledged(true).setStateKeptAside(keptAside)
          .setLate(late).build();
    }
  }

  private CompleteJobResponse repeat(JobRecord job, CompleteJobRequest request)
      throws StatusException {
    Job v = job.view();
    boolean same = v.getOutcome() == request.getOutcome()
        && v.getState().getSha256().equals(request.getState().getSha256());
    if (!same) {
      log.warn("job {}: refused a different result ({}) after it finished as {}", job.id(),
          request.getOutcome(), v.getOutcome());
      throw Status.ALREADY_EXISTS.withDescription("job " + job.id()
          + " already has a different result (" + v.getOutcome() + ")").asException();
    }
    return CompleteJobResponse.newBuilder().setAcknowledged(true).setDuplicate(true)
        .setStateKeptAside(v.getStateKeptAside()).build();
  }

  /** The uploaded bytes a result refers to, or null when it refers to none. */
  private byte[] uploaded(String owner, PayloadRef ref, PayloadKind kind) throws StatusException {
    if (!Payloads.isPresent(ref)) {
      return null;
    }
    byte[] data = plane.store().payload(owner, "upload/" + kind.name()).orElse(null);
    if (data == null || !Payloads.sha256(data).equals(ref.getSha256())) {
      throw Status.FAILED_PRECONDITION.withDescription("the result refers to a " + kind
          + " with sha256 " + ref.getSha256() + " that was not uploaded").asException();
    }
    if (kind != PayloadKind.PAYLOAD_KIND_STATE) {
      plane.store().putPayload(owner, kind.name(), data);
    }
    return data;
  }

  /**
   * Adopts the state only if the workspace still holds the state this job started from: a late
   * result must never overwrite what a newer job wrote meanwhile.
   */
  private boolean adopt(JobRecord job, byte[] state, StateInfo next) {
    WorkspaceRecord ws = plane.store().workspace(job.view().getWorkspace());
    String startedFrom = plane.store().payload(ControlPlane.jobOwner(job.id()),
        PayloadKind.PAYLOAD_KIND_PRIOR_STATE.name()).map(Payloads::sha256).orElse("");
    String refusal = !ws.state().getSha256().equals(startedFrom)
        ? "the workspace's state changed since the job started (another job ran meanwhile)"
        : new StateInfo(ws.serial(), ws.lineage()).refusalToReplaceWith(next);
    if (refusal != null) {
      log.warn("job {}: state not adopted by workspace {}: {}; kept with the job", job.id(),
          ws.key(), refusal);
      return false;
    }
    plane.store().putPayload(ControlPlane.workspaceOwner(ws), "state", state);
    plane.store().updateWorkspace(ws.ref(), w -> w.withState(
        Payloads.ref(PayloadKind.PAYLOAD_KIND_STATE, state), next.serial(), next.lineage()));
    return true;
  }

  private static JobStatus status(JobOutcome outcome) {
    return switch (outcome) {
      case JOB_OUTCOME_SUCCEEDED -> JobStatus.JOB_STATUS_SUCCEEDED;
      case JOB_OUTCOME_CANCELLED -> JobStatus.JOB_STATUS_CANCELLED;
      case JOB_OUTCOME_INTERRUPTED -> JobStatus.JOB_STATUS_INTERRUPTED;
      default -> JobStatus.JOB_STATUS_FAILED;
    };
  }
}
