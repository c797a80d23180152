package dev.outpost.stub.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.v1.Hello;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.TemplateImport;
import dev.outpost.proto.v1.WorkspaceRef;
import dev.outpost.stub.store.JobRecord;
import dev.outpost.stub.store.KeyRecord;
import dev.outpost.stub.store.MemoryStore;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The control plane keeps its own index of queued and leased jobs (dispatch and lease expiry do
 * not read every stored job); a control plane started on a store that already holds jobs must
 * find them there.
 */
class ControlPlaneRestartTest {
  private final MemoryStore store = new MemoryStore();
  private final TestClock clock = new TestClock();

  @Test
  void aJobQueuedBeforeARestart_isDispatchedToTheFirstAgentThatConnects() throws Exception {
    store.putKey(new KeyRecord("k1", "acme", new byte[] {1}, null, Map.of(), Instant.now(), null,
        null));
    queue("job-old", "ws-1");
    ControlPlane plane = new ControlPlane(store, clock, ControlPlane.Settings.defaults());

    List<ServerMessage> received = new CopyOnWriteArrayList<>();
    connect(plane, "agent-1", received);

    assertThat(received).filteredOn(ServerMessage::hasAssignment)
        .extracting(m -> m.getAssignment().getLease().getJobId()).containsExactly("job-old");
    assertThat(store.job("job-old").orElseThrow().view().getStatus())
        .isEqualTo(JobStatus.JOB_STATUS_RUNNING);
  }

  @Test
  void aLeaseHeldBeforeARestart_stillExpires_andFreesTheAgentsSlot() throws Exception {
    store.putKey(new KeyRecord("k1", "acme", new byte[] {1}, null, Map.of(), Instant.now(), null,
        null));
    queue("job-running", "ws-1");
    store.updateJob("job-running", j -> j.withLease("lease-1", "acme/agent-1", Instant.now())
        .withView(j.view().toBuilder().setStatus(JobStatus.JOB_STATUS_RUNNING).build()));
    queue("job-next", "ws-2");
    ControlPlane plane = new ControlPlane(store, clock, ControlPlane.Settings.defaults());
    // The agent comes back still holding the running job: its only slot is taken.
    List<ServerMessage> received = new CopyOnWriteArrayList<>();
    AgentSession session = connect(plane, "agent-1", received,
        dev.outpost.proto.v1.LeaseRef.newBuilder().setJobId("job-running")
            .setLeaseId("lease-1").build());
    assertThat(received).noneMatch(ServerMessage::hasAssignment);

    clock.shift(ControlPlane.Settings.defaults().leaseTtl().plus(Duration.ofSeconds(1)));
    plane.expireLeases();
    // The agent stops the job whose lease it lost and reports its slot free.
    plane.slotsAvailable(session, 1);

    assertThat(store.job("job-running").orElseThrow().view().getStatus())
        .isEqualTo(JobStatus.JOB_STATUS_INTERRUPTED);
    assertThat(received).filteredOn(ServerMessage::hasAssignment)
        .extracting(m -> m.getAssignment().getLease().getJobId()).containsExactly("job-next");
  }

  private void queue(String id, String workspace) {
    store.putPayload(ControlPlane.jobOwner(id), PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE.name(),
        new byte[] {1, 2, 3});
    store.putJob(new JobRecord(Job.newBuilder().setId(id).setStatus(JobStatus.JOB_STATUS_QUEUED)
        .setWorkspace(WorkspaceRef.newBuilder().setOrg("acme").setName(workspace))
        .setType(JobType.newBuilder().setTemplateImport(TemplateImport.getDefaultInstance()))
        .build(), List.of(), null, null, null, 0));
  }

  private static AgentSession connect(ControlPlane plane, String agent,
      List<ServerMessage> received, dev.outpost.proto.v1.LeaseRef... held) throws Exception {
    return plane.openSession(new Principal("acme", agent, "k1", "01", null),
        Hello.newBuilder().setAgentName(agent).setMaxJobs(1).setFreeSlots(held.length > 0 ? 0 : 1)
            .addAllHeldLeases(List.of(held)).build(),
        new StreamObserver<>() {
          @Override
          public void onNext(ServerMessage message) {
            received.add(message);
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        });
  }
}
