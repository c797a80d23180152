package dev.outpost.stub.server;

import static dev.outpost.stub.server.StubFixture.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.v1.AppendLogsRequest;
import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.DownloadPayloadRequest;
import dev.outpost.proto.v1.GetJobRequest;
import dev.outpost.proto.v1.HeartbeatRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobOutcome;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.LeaseRef;
import dev.outpost.proto.v1.LeaseStatus;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PlanJob;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.WorkspaceRef;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An agent of org beta can never see, lease, or write to a job of org acme. */
class OrgIsolationTest {
  @TempDir
  Path dir;
  StubFixture stub;

  @BeforeEach
  void start() throws Exception {
    stub = StubFixture.start(dir);
  }

  @AfterEach
  void stop() throws Exception {
    stub.close();
  }

  @Test
  void agentOfOrgB_cannotBeDispatchedDownloadLogCompleteOrHeartbeatAJobOfOrgA()
      throws Exception {
    AgentClient beta = stub.agent(stub.credential("beta", "b1"), stub.betaKey);
    AgentClient.Session betaSession = beta.connect("b1", 1);
    await().atMost(Duration.ofSeconds(5)).until(betaSession::welcomed);

    Job job = stub.admin.submit(SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg("acme").setName("network"))
        .setType(JobType.newBuilder().setPlan(PlanJob.getDefaultInstance())).build(),
        "not really a tar.gz".getBytes(StandardCharsets.UTF_8));
    // Dispatch ran on submission: with only beta's free agent connected, the job waits.
    assertThat(stub.admin.blocking(10).getJob(GetJobRequest.newBuilder().setId(job.getId())
        .build()).getPendingReason()).contains("no connected agent of org acme");

    AgentClient acme = stub.agent(stub.credential("acme", "a1"), stub.acmeKey);
    AgentClient.Session acmeSession = acme.connect("a1", 1);
    await().atMost(Duration.ofSeconds(5))
        .until(() -> acmeSession.received.stream().anyMatch(ServerMessage::hasAssignment));
    LeaseRef lease = acmeSession.received.stream().filter(ServerMessage::hasAssignment)
        .findFirst().orElseThrow().getAssignment().getLease();
    assertThat(lease.getJobId()).isEqualTo(job.getId());

    assertStatus(() -> beta.provisioner().downloadPayload(DownloadPayloadRequest.newBuilder()
        .setLease(lease).setKind(PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE).build()).next(),
        Status.Code.PERMISSION_DENIED, "is not leased to this agent");
    assertStatus(() -> beta.provisioner().appendLogs(AppendLogsRequest.newBuilder()
        .setLease(lease).addEntries(LogEntry.newBuilder().setSeq(1).setMessage("forged"))
        .build()), Status.Code.PERMISSION_DENIED, "is not leased to this agent");
    assertStatus(() -> beta.provisioner().completeJob(CompleteJobRequest.newBuilder()
        .setLease(lease).setOutcome(JobOutcome.JOB_OUTCOME_FAILED).build()),
        Status.Code.PERMISSION_DENIED, "is not leased to this agent");
    LeaseStatus heartbeat = beta.provisioner().heartbeat(HeartbeatRequest.newBuilder()
        .addLeases(lease).build()).getLeases(0);
    assertThat(heartbeat.getState()).isEqualTo(LeaseStatus.State.STATE_UNKNOWN);

    assertThat(betaSession.received).noneMatch(ServerMessage::hasAssignment);
    assertThat(stub.store.logCount(job.getId())).isZero();
    // The rightful holder is unaffected.
    assertThat(acme.provisioner().heartbeat(HeartbeatRequest.newBuilder().addLeases(lease)
        .build()).getLeases(0).getState()).isEqualTo(LeaseStatus.State.STATE_ACTIVE);
  }
}
