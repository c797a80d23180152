package dev.outpost.stub.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.outpost.proto.Payloads;
import dev.outpost.proto.v1.AgentMessage;
import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.CompleteJobResponse;
import dev.outpost.proto.v1.GetJobRequest;
import dev.outpost.proto.v1.HeartbeatRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobOutcome;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.LeaseRef;
import dev.outpost.proto.v1.LeaseStatus;
import dev.outpost.proto.v1.PayloadChunk;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.SlotsAvailable;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.UploadHeader;
import dev.outpost.proto.v1.UploadPayloadRequest;
import dev.outpost.proto.v1.WorkspaceRef;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Leases: expiry, late delivery, slot accounting, and a state that cannot be read. */
class LeaseTest {
  @TempDir
  Path dir;
  StubFixture stub;
  AgentClient agent;

  @BeforeEach
  void start() throws Exception {
    stub = StubFixture.start(dir);
    agent = stub.agent(stub.acmeAgent, stub.acmeKey);
  }

  @AfterEach
  void stop() throws Exception {
    stub.close();
  }

  private Job submit(String workspace) throws Exception {
    return stub.admin.submit(SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg("acme").setName(workspace))
        .setType(JobType.newBuilder().setApply(ApplyJob.getDefaultInstance())).build(),
        "archive".getBytes(StandardCharsets.UTF_8));
  }

  private Job job(String id) {
    return stub.admin.blocking(10).getJob(GetJobRequest.newBuilder().setId(id).build());
  }

  private static LeaseRef awaitAssignment(AgentClient.Session session, int index) {
    await().atMost(Duration.ofSeconds(5)).until(() -> session.received.stream()
        .filter(ServerMessage::hasAssignment).count() > index);
    return session.received.stream().filter(ServerMessage::hasAssignment).skip(index)
        .findFirst().orElseThrow().getAssignment().getLease();
  }

  private PayloadRef upload(LeaseRef lease, byte[] state) throws Exception {
    CompletableFuture<PayloadRef> stored = new CompletableFuture<>();
    StreamObserver<UploadPayloadRequest> up = dev.outpost.proto.v1.ProvisionerGrpc
        .newStub(agent.provisioner().getChannel())
        .uploadPayload(new StreamObserver<>() {
          @Override
          public void onNext(dev.outpost.proto.v1.UploadPayloadResponse r) {
            stored.complete(r.getStored());
          }

          @Override
          public void onError(Throwable t) {
            stored.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    PayloadRef ref = Payloads.ref(PayloadKind.PAYLOAD_KIND_STATE, state);
    up.onNext(UploadPayloadRequest.newBuilder().setHeader(UploadHeader.newBuilder()
        .setLease(lease).setPayload(ref)).build());
    up.onNext(UploadPayloadRequest.newBuilder().setChunk(PayloadChunk.newBuilder()
        .setData(ByteString.copyFrom(state)).setTrailer(ref)).build());
    up.onCompleted();
    return stored.get(10, TimeUnit.SECONDS);
  }

  @Test
  void expiredLease_interruptsTheJob_freesTheWorkspace_andTheLateResultIsStoredFlaggedLate()
      throws Exception {
    AgentClient.Session session = agent.connect("healthy", 1);
    Job first = submit("ws");
    LeaseRef lease = awaitAssignment(session, 0);

    stub.clock.shift(ControlPlane.Settings.defaults().leaseTtl().plusSeconds(1));
    await("lease expired").atMost(Duration.ofSeconds(5))
        .until(() -> job(first.getId()).getStatus() == JobStatus.JOB_STATUS_INTERRUPTED);
    assertThat(agent.provisioner().heartbeat(HeartbeatRequest.newBuilder().addLeases(lease)
        .build()).getLeases(0).getState()).isEqualTo(LeaseStatus.State.STATE_EXPIRED);

    // The workspace and the slot are free again: the next job is dispatched.
    Job second = submit("ws");
    assertThat(awaitAssignment(session, 1).getJobId()).isEqualTo(second.getId());

    byte[] state = "{\"version\":4,\"serial\":3,\"lineage\":\"l-1\"}".getBytes(StandardCharsets.UTF_8);
    PayloadRef ref = upload(lease, state);
    CompleteJobResponse late = agent.provisioner().completeJob(CompleteJobRequest.newBuilder()
        .setLease(lease).setOutcome(JobOutcome.JOB_OUTCOME_SUCCEEDED).setState(ref).build());
    assertThat(late.getAcknowledged()).isTrue();
    assertThat(late.getLate()).isTrue();
    Job stored = job(first.getId());
    assertThat(stored.getLate()).isTrue();
    assertThat(stored.getState().getSha256()).isEqualTo(ref.getSha256());
  }

  @Test
  void aLateResult_neverOverwritesTheStateOfAJobThatRanMeanwhile() throws Exception {
    AgentClient.Session session = agent.connect("healthy", 1);
    Job first = submit("ws");
    LeaseRef late = awaitAssignment(session, 0);
    stub.clock.shift(ControlPlane.Settings.defaults().leaseTtl().plusSeconds(1));
    await().atMost(Duration.ofSeconds(5))
        .until(() -> job(first.getId()).getStatus() == JobStatus.JOB_STATUS_INTERRUPTED);

    Job second = submit("ws");
    LeaseRef current = awaitAssignment(session, 1);
    byte[] newer = "{\"version\":4,\"serial\":5,\"lineage\":\"l-1\"}".getBytes(StandardCharsets.UTF_8);
    PayloadRef newerRef = upload(current, newer);
    agent.provisioner().completeJob(CompleteJobRequest.newBuilder().setLease(current)
        .setOutcome(JobOutcome.JOB_OUTCOME_SUCCEEDED).setState(newerRef).build());

    byte[] stale = "{\"version\":4,\"serial\":6,\"lineage\":\"l-1\"}".getBytes(StandardCharsets.UTF_8);
    PayloadRef staleRef = upload(late, stale);
    CompleteJobResponse response = agent.provisioner().completeJob(CompleteJobRequest
        .newBuilder().setLease(late).setOutcome(JobOutcome.JOB_OUTCOME_SUCCEEDED)
        .setState(staleRef).build());
    assertThat(response.getLate()).isTrue();
    assertThat(response.getStateKeptAside()).isTrue();
    var ws = stub.admin.blocking(10).getWorkspace(dev.outpost.proto.v1.GetWorkspaceRequest
        .newBuilder().setRef(WorkspaceRef.newBuilder().setOrg("acme").setName("ws")).build());
    assertThat(ws.getState().getSha256()).isEqualTo(newerRef.getSha256());
    assertThat(job(second.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
  }

  @Test
  void anAssignmentTheAgentNeverSaw_isInterrupted_whenItReconnectsWithoutIt() throws Exception {
    AgentClient.Session session = agent.connect("healthy", 1);
    Job job = submit("ws");
    awaitAssignment(session, 0);
    // A new session of the same agent whose Hello holds no lease: the assignment was lost.
    AgentClient.Session again = agent.connect("healthy", 1);
    await().atMost(Duration.ofSeconds(5)).until(again::welcomed);
    assertThat(job(job.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_INTERRUPTED);
    assertThat(job(job.getId()).getErrorMessage()).contains("reconnected without this job");
  }

  @Test
  void aSlotReportCrossingAnAssignment_neverOverCommitsTheAgent() throws Exception {
    AgentClient.Session session = agent.connect("healthy", 1);
    submit("a");
    awaitAssignment(session, 0);
    // The agent's report was written before it saw the assignment: one slot free, it says.
    session.requests.onNext(AgentMessage.newBuilder().setSlots(SlotsAvailable.newBuilder()
        .setFreeSlots(1)).build());
    Job second = submit("b");
    await().atMost(Duration.ofSeconds(5))
        .until(() -> job(second.getId()).getPendingReason().contains("busy"));
    assertThat(session.received.stream().filter(ServerMessage::hasAssignment).count())
        .isEqualTo(1);
  }

  @Test
  void aJobWithAVersionConstraint_goesOnlyToAnAgentWhoseTerraformSatisfiesIt() throws Exception {
    AgentClient.Session session = agent.connect("healthy", 2, "1.11.4");
    Job old = stub.admin.submit(SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg("acme").setName("old"))
        .setType(JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()))
        .setTerraformVersionConstraint("~> 1.5.0").build(), "a".getBytes(StandardCharsets.UTF_8));
    Job current = stub.admin.submit(SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg("acme").setName("current"))
        .setType(JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()))
        .setTerraformVersionConstraint(">= 1.10, < 2.0").build(),
        "a".getBytes(StandardCharsets.UTF_8));
    assertThat(awaitAssignment(session, 0).getJobId()).isEqualTo(current.getId());
    assertThat(job(old.getId()).getPendingReason())
        .contains("no connected agent runs a Terraform version satisfying \"~> 1.5.0\"");
  }

  @Test
  void aStateThatCannotBeRead_isKeptAside_andTheJobStillCompletes() throws Exception {
    AgentClient.Session session = agent.connect("healthy", 1);
    Job job = submit("ws");
    LeaseRef lease = awaitAssignment(session, 0);
    PayloadRef ref = upload(lease, "{\"version\":4,\"ser".getBytes(StandardCharsets.UTF_8));
    CompleteJobResponse response = agent.provisioner().completeJob(CompleteJobRequest
        .newBuilder().setLease(lease).setOutcome(JobOutcome.JOB_OUTCOME_INTERRUPTED)
        .setState(ref).build());
    assertThat(response.getAcknowledged()).isTrue();
    assertThat(response.getStateKeptAside()).isTrue();
    assertThat(job(job.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_INTERRUPTED);
    assertThat(job(job.getId()).getState().getSha256()).isEqualTo(ref.getSha256());
  }
}
