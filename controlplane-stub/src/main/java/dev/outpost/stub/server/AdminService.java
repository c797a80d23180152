package dev.outpost.stub.server;

import dev.outpost.proto.Payloads;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.AdminGrpc;
import dev.outpost.proto.v1.Agent;
import dev.outpost.proto.v1.CancelJobRequest;
import dev.outpost.proto.v1.CreateKeyRequest;
import dev.outpost.proto.v1.CreateKeyResponse;
import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.proto.v1.GetJobRequest;
import dev.outpost.proto.v1.GetPayloadRequest;
import dev.outpost.proto.v1.GetWorkspaceRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.ListAgentsRequest;
import dev.outpost.proto.v1.ListAgentsResponse;
import dev.outpost.proto.v1.ListAuditEventsRequest;
import dev.outpost.proto.v1.ListAuditEventsResponse;
import dev.outpost.proto.v1.ListJobsRequest;
import dev.outpost.proto.v1.ListJobsResponse;
import dev.outpost.proto.v1.ListKeysRequest;
import dev.outpost.proto.v1.ListKeysResponse;
import dev.outpost.proto.v1.ListOrgsRequest;
import dev.outpost.proto.v1.ListOrgsResponse;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.Org;
import dev.outpost.proto.v1.OrgKey;
import dev.outpost.proto.v1.PayloadChunk;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.RevokeCertificateRequest;
import dev.outpost.proto.v1.RevokeCertificateResponse;
import dev.outpost.proto.v1.RevokeKeyRequest;
import dev.outpost.proto.v1.StreamLogsRequest;
import dev.outpost.proto.v1.Workspace;
import dev.outpost.stub.auth.OrgKeySecret;
import dev.outpost.stub.store.JobRecord;
import dev.outpost.stub.store.KeyRecord;
import dev.outpost.stub.store.WorkspaceRecord;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.security.SecureRandom;
import java.util.regex.Pattern;

/** The operator API of the reference control plane. */
final class AdminService extends AdminGrpc.AdminImplBase {
  static final Pattern ORG_NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  static final Pattern WORKSPACE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  private static final SecureRandom RANDOM = new SecureRandom();

  private final ControlPlane plane;
  private final JobSubmissions submissions;
  private final Revocations revocations;

  AdminService(ControlPlane plane, Revocations revocations, long maxPayloadBytes) {
    this.plane = plane;
    this.revocations = revocations;
    this.submissions = new JobSubmissions(plane, maxPayloadBytes);
  }

  @Override
  public void createOrg(CreateOrgRequest request, StreamObserver<Org> responses) {
    unary(responses, () -> {
      if (!ORG_NAME.matcher(request.getName()).matches()) {
        throw Status.INVALID_ARGUMENT.withDescription("org name '" + request.getName()
            + "' is invalid: use 1-63 lowercase letters, digits and '-'").asException();
      }
      Org org = Org.newBuilder().setName(request.getName())
          .setCreatedAt(Times.timestamp(plane.now())).build();
      if (!plane.store().createOrg(org)) {
        throw Status.ALREADY_EXISTS.withDescription("org " + request.getName() + " exists")
            .asException();
      }
      plane.audit("org.created", null, "", request.getName());
      return org;
    });
  }

  @Override
  public void listOrgs(ListOrgsRequest request, StreamObserver<ListOrgsResponse> responses) {
    unary(responses, () -> ListOrgsResponse.newBuilder().addAllOrgs(plane.store().orgs()).build());
  }

  @Override
  public void createKey(CreateKeyRequest request, StreamObserver<CreateKeyResponse> responses) {
    unary(responses, () -> {
      requireOrg(request.getOrg());
      if (request.hasExpiresAt() && !Times.instant(request.getExpiresAt()).isAfter(plane.now())) {
        throw Status.INVALID_ARGUMENT.withDescription("expires_at "
            + Times.instant(request.getExpiresAt()) + " is not in the future").asException();
      }
      OrgKeySecret secret = OrgKeySecret.generate();
      KeyRecord key = new KeyRecord(secret.id(), request.getOrg(), secret.hash(),
          request.getDescription(), request.getTagsMap(), plane.now(),
          request.hasExpiresAt() ? Times.instant(request.getExpiresAt()) : null, null);
      plane.store().putKey(key);
      plane.store().audit(dev.outpost.proto.v1.AuditEvent.newBuilder()
          .setTime(Times.timestamp(plane.now())).setKind("key.created").setOrg(key.org())
          .setKeyId(key.id()).build());
      return CreateKeyResponse.newBuilder().setKey(view(key)).setSecret(secret.value()).build();
    });
  }

  @Override
  public void listKeys(ListKeysRequest request, StreamObserver<ListKeysResponse> responses) {
    unary(responses, () -> ListKeysResponse.newBuilder()
        .addAllKeys(plane.store().keys(request.getOrg()).stream().map(AdminService::view).toList())
        .build());
  }

  @Override
  public void revokeKey(RevokeKeyRequest request, StreamObserver<OrgKey> responses) {
    unary(responses, () -> view(revocations.revokeKey(request.getId())));
  }

  @Override
  public void revokeCertificate(RevokeCertificateRequest request,
      StreamObserver<RevokeCertificateResponse> responses) {
    unary(responses, () -> {
      revocations.revokeCertificate(request.getSerial());
      return RevokeCertificateResponse.getDefaultInstance();
    });
  }

  @Override
  public StreamObserver<dev.outpost.proto.v1.SubmitJobRequest> submitJob(
      StreamObserver<Job> responses) {
    return submissions.receive(responses);
  }

  @Override
  public void getJob(GetJobRequest request, StreamObserver<Job> responses) {
    unary(responses, () -> job(request.getId()).view().toBuilder()
        .setLogEntries(plane.store().logCount(request.getId())).build());
  }

  @Override
  public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> responses) {
    unary(responses, () -> ListJobsResponse.newBuilder().addAllJobs(plane.store()
        .jobs(request.getOrg()).stream().map(JobRecord::view).toList()).build());
  }

  @Override
  public void cancelJob(CancelJobRequest request, StreamObserver<Job> responses) {
    unary(responses, () -> plane.cancel(request.getId(),
        request.getReason().isEmpty() ? "cancel requested" : request.getReason()));
  }

  @Override
  public void streamLogs(StreamLogsRequest request, StreamObserver<LogEntry> responses) {
    try {
      job(request.getJobId());
      long next = Math.max(1, request.getFromSeq());
      while (!Context.current().isCancelled()) {
        List<LogEntry> batch = plane.store().logs(request.getJobId(), next, 1000);
        for (LogEntry entry : batch) {
          responses.onNext(entry);
          next = entry.getSeq() + 1;
        }
        if (!batch.isEmpty()) {
          continue;
        }
        JobRecord job = job(request.getJobId());
        boolean complete = job.terminal() && next > job.lastLogSeq();
        if (!request.getFollow() || complete) {
          break;
        }
        plane.awaitLogChange(Duration.ofMillis(500));
      }
      responses.onCompleted();
    } catch (StatusException e) {
      responses.onError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      responses.onError(Status.CANCELLED.asException());
    }
  }

  @Override
  public void getPayload(GetPayloadRequest request, StreamObserver<PayloadChunk> responses) {
    try {
      JobRecord job = job(request.getJobId());
      PayloadKind kind = request.getKind();
      byte[] data = plane.store().payload(ControlPlane.jobOwner(job.id()), kind.name())
          .orElseThrow(() -> Status.NOT_FOUND.withDescription("job " + job.id() + " has no "
              + kind).asException());
      Payloads.send(kind, new ByteArrayInputStream(data), responses::onNext);
      responses.onCompleted();
    } catch (StatusException e) {
      responses.onError(e);
    } catch (IOException e) {
      responses.onError(Status.INTERNAL.withDescription(e.getMessage()).asException());
    }
  }

  @Override
  public void getWorkspace(GetWorkspaceRequest request, StreamObserver<Workspace> responses) {
    unary(responses, () -> {
      WorkspaceRecord ws = plane.store().workspace(request.getRef());
      return Workspace.newBuilder().setRef(ws.ref()).setState(ws.state())
          .setStateSerial(ws.serial()).setStateLineage(ws.lineage())
          .setActiveJobId(ws.activeJobId()).build();
    });
  }

  @Override
  public void listAgents(ListAgentsRequest request, StreamObserver<ListAgentsResponse> responses) {
    unary(responses, () -> ListAgentsResponse.newBuilder().addAllAgents(plane.sessions().stream()
        .filter(s -> request.getOrg().isEmpty() || s.principal.org().equals(request.getOrg()))
        .map(s -> Agent.newBuilder().setId(s.agentId()).setOrg(s.principal.org())
            .setName(s.principal.agentName()).putAllTags(s.tags).setConnected(s.isOpen())
            .setMaxJobs(s.maxJobs).setFreeSlots(plane.free(s)).setTerraform(s.hello.getTerraform())
            .setKeyId(s.principal.keyId()).build())
        .toList()).build());
  }

  @Override
  public void listAuditEvents(ListAuditEventsRequest request,
      StreamObserver<ListAuditEventsResponse> responses) {
    unary(responses, () -> ListAuditEventsResponse.newBuilder()
        .addAllEvents(plane.store().auditEvents(request.getOrg())).build());
  }

  private JobRecord job(String id) throws StatusException {
    return plane.store().job(id)
        .orElseThrow(() -> Status.NOT_FOUND.withDescription("no job " + id).asException());
  }

  private void requireOrg(String org) throws StatusException {
    if (plane.store().org(org).isEmpty()) {
      throw Status.NOT_FOUND.withDescription("no org " + org + "; create it first").asException();
    }
  }

  static OrgKey view(KeyRecord k) {
    OrgKey.Builder b = OrgKey.newBuilder().setId(k.id()).setOrg(k.org())
        .setDescription(k.description()).putAllTags(k.tags())
        .setCreatedAt(Times.timestamp(k.createdAt())).setRevoked(k.revokedAt() != null);
    if (k.expiresAt() != null) {
      b.setExpiresAt(Times.timestamp(k.expiresAt()));
    }
    if (k.revokedAt() != null) {
      b.setRevokedAt(Times.timestamp(k.revokedAt()));
    }
    return b.build();
  }

  static String newJobId() {
    byte[] random = new byte[8];
    RANDOM.nextBytes(random);
    return "job-" + HexFormat.of().formatHex(random);
  }

  interface Call<T> {
    T run() throws StatusException;
  }

  static <T> void unary(StreamObserver<T> responses, Call<T> call) {
    try {
      responses.onNext(call.run());
      responses.onCompleted();
    } catch (StatusException e) {
      responses.onError(e);
    }
  }
}
