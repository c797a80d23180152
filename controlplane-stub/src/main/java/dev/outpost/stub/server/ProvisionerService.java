package dev.outpost.stub.server;

import dev.outpost.proto.Payloads;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.AgentMessage;
import dev.outpost.proto.v1.AppendLogsRequest;
import dev.outpost.proto.v1.AppendLogsResponse;
import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.CompleteJobResponse;
import dev.outpost.proto.v1.DownloadPayloadRequest;
import dev.outpost.proto.v1.HeartbeatRequest;
import dev.outpost.proto.v1.HeartbeatResponse;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.LeaseRef;
import dev.outpost.proto.v1.LeaseStatus;
import dev.outpost.proto.v1.PayloadChunk;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.ProvisionerGrpc;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.UploadHeader;
import dev.outpost.proto.v1.UploadPayloadRequest;
import dev.outpost.proto.v1.UploadPayloadResponse;
import dev.outpost.stub.store.JobRecord;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The agent-facing service; every call arrives authenticated (see AgentAuthInterceptor). */
final class ProvisionerService extends ProvisionerGrpc.ProvisionerImplBase {
  private static final Logger log = LoggerFactory.getLogger(ProvisionerService.class);
  private static final Set<PayloadKind> DOWNLOADABLE = Set.of(
      PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE, PayloadKind.PAYLOAD_KIND_PRIOR_STATE,
      PayloadKind.PAYLOAD_KIND_SAVED_PLAN);
  private static final Set<PayloadKind> UPLOADABLE = Set.of(PayloadKind.PAYLOAD_KIND_STATE,
      PayloadKind.PAYLOAD_KIND_PLAN_FILE, PayloadKind.PAYLOAD_KIND_PLAN_JSON);

  private final ControlPlane plane;
  private final JobResults results;
  private final long maxPayloadBytes;

  ProvisionerService(ControlPlane plane, long maxPayloadBytes) {
    this.plane = plane;
    this.results = new JobResults(plane);
    this.maxPayloadBytes = maxPayloadBytes;
  }

  @Override
  public StreamObserver<AgentMessage> connect(StreamObserver<ServerMessage> responses) {
    Principal principal = Principal.current();
    return new StreamObserver<>() {
      private AgentSession session;

      @Override
      public void onNext(AgentMessage message) {
        try {
          if (session == null) {
            if (message.hasSlots()) {
              return; // advisory, and meaningless before Hello
            }
            if (!message.hasHello()) {
              throw Status.INVALID_ARGUMENT.withDescription("the first session message must be Hello")
                  .asException();
            }
            session = plane.openSession(principal, message.getHello(), responses);
          } else if (message.hasSlots()) {
            plane.slotsAvailable(session, message.getSlots().getFreeSlots());
          }
        } catch (StatusException e) {
          log.warn("session of {} refused: {}", ControlPlane.agentId(principal),
              e.getStatus().getDescription());
          responses.onError(e);
        }
      }

      @Override
      public void onError(Throwable t) {
        if (session != null) {
          plane.closeSession(session);
        }
      }

      @Override
      public void onCompleted() {
        if (session != null) {
          plane.closeSession(session);
          session.end(Status.OK);
        } else {
          responses.onCompleted();
        }
      }
    };
  }

  @Override
  public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> responses) {
    Principal caller = Principal.current();
    HeartbeatResponse.Builder out = HeartbeatResponse.newBuilder();
    for (LeaseRef lease : request.getLeasesList()) {
      LeaseStatus.Builder status = LeaseStatus.newBuilder().setLease(lease);
      try {
        JobRecord job;
        JobRecord renewed;
        // Checked and renewed together, so a lease expiring meanwhile is never extended.
        synchronized (plane) {
          job = plane.checkLease(caller, lease, false);
          renewed = plane.store().updateJob(job.id(), j -> j.withLease(j.leaseId(),
              j.leaseAgentId(), plane.now().plus(plane.settings().leaseTtl()))).orElseThrow();
        }
        status.setState(job.view().getStatus() == JobStatus.JOB_STATUS_CANCELLING
            ? LeaseStatus.State.STATE_CANCEL_REQUESTED : LeaseStatus.State.STATE_ACTIVE)
            .setExpiresAt(Times.timestamp(renewed.leaseExpiresAt()));
      } catch (StatusException e) {
        boolean known = plane.store().job(lease.getJobId())
            .filter(j -> j.view().getWorkspace().getOrg().equals(caller.org())).isPresent();
        status.setState(known ? LeaseStatus.State.STATE_EXPIRED : LeaseStatus.State.STATE_UNKNOWN);
      }
      out.addLeases(status);
    }
    responses.onNext(out.build());
    responses.onCompleted();
  }

  @Override
  public void downloadPayload(DownloadPayloadRequest request,
      StreamObserver<PayloadChunk> responses) {
    try {
      JobRecord job = plane.checkLease(Principal.current(), request.getLease(), false);
      if (!DOWNLOADABLE.contains(request.getKind())) {
        throw Status.INVALID_ARGUMENT.withDescription(
            "payload kind " + request.getKind() + " cannot be downloaded").asException();
      }
      byte[] data = plane.store().payload(ControlPlane.jobOwner(job.id()), request.getKind().name())
          .orElseThrow(() -> Status.NOT_FOUND.withDescription(
              "job " + job.id() + " has no " + request.getKind()).asException());
      ByteArrayInputStream in = new ByteArrayInputStream(data);
      Payloads.send(request.getKind(), in, responses::onNext);
      responses.onCompleted();
    } catch (StatusException e) {
      responses.onError(e);
    } catch (IOException e) {
      responses.onError(Status.INTERNAL.withDescription(e.getMessage()).asException());
    }
  }

  @Override
  public StreamObserver<UploadPayloadRequest> uploadPayload(
      StreamObserver<UploadPayloadResponse> responses) {
    Principal caller = Principal.current();
    return new ChunkedRequests<UploadPayloadRequest, UploadHeader, UploadPayloadResponse>(
        responses, maxPayloadBytes, "upload") {
      private JobRecord job;

      @Override
      UploadHeader header(UploadPayloadRequest request) {
        return request.hasHeader() ? request.getHeader() : null;
      }

      @Override
      PayloadChunk chunk(UploadPayloadRequest request) {
        return request.hasChunk() ? request.getChunk() : null;
      }

      @Override
      long accept(UploadHeader header) throws StatusException {
        job = plane.checkLease(caller, header.getLease(), true);
        if (!UPLOADABLE.contains(header.getPayload().getKind())) {
          throw Status.INVALID_ARGUMENT.withDescription("payload kind "
              + header.getPayload().getKind() + " cannot be uploaded").asException();
        }
        return header.getPayload().getSize();
      }

      @Override
      UploadPayloadResponse complete(UploadHeader header, byte[] data, PayloadRef stored)
          throws StatusException {
        if (!stored.getSha256().equals(header.getPayload().getSha256())) {
          throw Status.INVALID_ARGUMENT.withDescription("uploaded payload's digest "
              + stored.getSha256() + " differs from the header's "
              + header.getPayload().getSha256()).asException();
        }
        plane.store().putPayload(ControlPlane.jobOwner(job.id()),
            "upload/" + header.getPayload().getKind().name(), data);
        return UploadPayloadResponse.newBuilder().setStored(stored).setLate(job.terminal())
            .build();
      }
    };
  }

  @Override
  public void appendLogs(AppendLogsRequest request, StreamObserver<AppendLogsResponse> responses) {
    try {
      JobRecord job = plane.checkLease(Principal.current(), request.getLease(), true);
      long acked = plane.store().appendLogs(job.id(), request.getEntriesList());
      plane.signalLogs();
      responses.onNext(AppendLogsResponse.newBuilder().setAckedSeq(acked).setLate(job.terminal())
          .setStopRequested(job.view().getStatus() == JobStatus.JOB_STATUS_CANCELLING).build());
      responses.onCompleted();
    } catch (StatusException e) {
      responses.onError(e);
    }
  }

  @Override
  public void completeJob(CompleteJobRequest request,
      StreamObserver<CompleteJobResponse> responses) {
    try {
      responses.onNext(results.complete(Principal.current(), request));
      responses.onCompleted();
    } catch (StatusException e) {
      responses.onError(e);
    }
  }
}
