package dev.outpost.stub.server;

import dev.outpost.proto.Times;
import dev.outpost.proto.v1.PayloadChunk;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.SubmitJobRequest;
import dev.outpost.proto.v1.Variable;
import dev.outpost.stub.store.JobRecord;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.util.HashSet;
import java.util.Set;

/** Receives a submitted job (header, then the source archive in chunks) and queues it. */
final class JobSubmissions {
  private final ControlPlane plane;
  private final long maxPayloadBytes;

  JobSubmissions(ControlPlane plane, long maxPayloadBytes) {
    this.plane = plane;
    this.maxPayloadBytes = maxPayloadBytes;
  }

  StreamObserver<SubmitJobRequest> receive(StreamObserver<Job> responses) {
    return new ChunkedRequests<SubmitJobRequest, SubmitJobHeader, Job>(responses,
        maxPayloadBytes, "submission") {
      @Override
      SubmitJobHeader header(SubmitJobRequest request) {
        return request.hasHeader() ? request.getHeader() : null;
      }

      @Override
      PayloadChunk chunk(SubmitJobRequest request) {
        return request.hasChunk() ? request.getChunk() : null;
      }

      @Override
      long accept(SubmitJobHeader header) throws StatusException {
        validate(header);
        return -1;
      }

      @Override
      Job complete(SubmitJobHeader header, byte[] archive, PayloadRef trailer) {
        return queue(header, archive);
      }
    };
  }

  private SubmitJobHeader validate(SubmitJobHeader h) throws StatusException {
    String org = h.getWorkspace().getOrg();
    if (plane.store().org(org).isEmpty()) {
      throw Status.NOT_FOUND.withDescription("no org '" + org + "'").asException();
    }
    if (!AdminService.WORKSPACE_NAME.matcher(h.getWorkspace().getName()).matches()) {
      throw Status.INVALID_ARGUMENT.withDescription("workspace name '" + h.getWorkspace().getName()
          + "' is invalid: use letters, digits, '.', '_' and '-' (at most 64)").asException();
    }
    if (h.getType().getTypeCase() == dev.outpost.proto.v1.JobType.TypeCase.TYPE_NOT_SET) {
      throw Status.INVALID_ARGUMENT.withDescription("the job has no type").asException();
    }
    String planJob = h.getType().getApply().getSavedPlanJobId();
    if (!planJob.isEmpty()) {
      var plan = plane.store().job(planJob).orElseThrow(() -> Status.NOT_FOUND
          .withDescription("no plan job " + planJob).asException());
      if (!plan.view().getWorkspace().equals(h.getWorkspace())
          || !plan.view().getType().hasPlan()) {
        throw Status.INVALID_ARGUMENT.withDescription("job " + planJob + " is not a plan job of "
            + "workspace " + org + "/" + h.getWorkspace().getName()).asException();
      }
      if (plane.store().payload(ControlPlane.jobOwner(planJob),
          dev.outpost.proto.v1.PayloadKind.PAYLOAD_KIND_PLAN_FILE.name()).isEmpty()) {
        throw Status.FAILED_PRECONDITION.withDescription("plan job " + planJob
            + " has no saved plan (it is " + plan.view().getStatus() + ")").asException();
      }
    }
    if (!h.getTerraformVersionConstraint().isBlank()) {
      try {
        VersionConstraint.parse(h.getTerraformVersionConstraint());
      } catch (IllegalArgumentException e) {
        throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException();
      }
    }
    if (!h.getNetwork().isEmpty() && !Set.of("full", "none").contains(h.getNetwork())) {
      throw Status.INVALID_ARGUMENT.withDescription("network '" + h.getNetwork()
          + "' is invalid: use full or none").asException();
    }
    Set<String> names = new HashSet<>();
    for (Variable v : h.getVariablesList()) {
      if (!v.getName().matches("[A-Za-z_][A-Za-z0-9_-]*") || !names.add(v.getName())) {
        throw Status.INVALID_ARGUMENT.withDescription("variable name '" + v.getName()
            + "' is invalid or repeated").asException();
      }
    }
    return h;
  }

  private Job queue(SubmitJobHeader h, byte[] archive) {
    String id = AdminService.newJobId();
    plane.store().putPayload(ControlPlane.jobOwner(id), PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE.name(),
        archive);
    Job view = Job.newBuilder().setId(id).setWorkspace(h.getWorkspace()).setType(h.getType())
        .setStatus(JobStatus.JOB_STATUS_QUEUED).putAllTags(h.getTagsMap())
        .setSubmittedAt(Times.timestamp(plane.now())).setNetwork(h.getNetwork().isEmpty()
            ? "full" : h.getNetwork())
        .addAllVariableNames(ControlPlane.names(h.getVariablesList()))
        .setTerraformVersionConstraint(h.getTerraformVersionConstraint().strip()).build();
    plane.store().putJob(new JobRecord(view, h.getVariablesList(), null, null, null, 0));
    plane.enqueue(id);
    return plane.store().job(id).orElseThrow().view();
  }
}
