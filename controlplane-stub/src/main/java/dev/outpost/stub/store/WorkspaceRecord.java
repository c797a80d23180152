package dev.outpost.stub.store;

import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.WorkspaceRef;

/** A workspace: the owner of one Terraform state, running at most one job at a time. */
public record WorkspaceRecord(WorkspaceRef ref, PayloadRef state, long serial, String lineage,
    String activeJobId) {

  public static WorkspaceRecord empty(WorkspaceRef ref) {
    return new WorkspaceRecord(ref, PayloadRef.getDefaultInstance(), 0, "", "");
  }

  public String key() {
    return ref.getOrg() + "/" + ref.getName();
  }

  public WorkspaceRecord withActiveJob(String jobId) {
    return new WorkspaceRecord(ref, state, serial, lineage, jobId);
  }

  public WorkspaceRecord withState(PayloadRef newState, long newSerial, String newLineage) {
    return new WorkspaceRecord(ref, newState, newSerial, newLineage, activeJobId);
  }
}
