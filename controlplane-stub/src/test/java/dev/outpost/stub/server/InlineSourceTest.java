package dev.outpost.stub.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.Payloads;
import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.WorkspaceRef;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A small configuration archive rides in the assignment; a large one is left to download. */
class InlineSourceTest {
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

  @Test
  void anArchiveUpTo256KiB_isInTheAssignment_andALargerOneIsNot() throws Exception {
    AgentClient.Session session = agent.connect("healthy", 2);
    byte[] small = archive(ControlPlane.INLINE_SOURCE_BYTES);
    byte[] large = archive(ControlPlane.INLINE_SOURCE_BYTES + 1);
    submit("small", small);
    submit("large", large);
    await().atMost(Duration.ofSeconds(5)).until(() -> session.received.stream()
        .filter(ServerMessage::hasAssignment).count() == 2);
    JobAssignment first = assignment(session, "small");
    JobAssignment second = assignment(session, "large");

    assertThat(first.getSourceInline().toByteArray()).isEqualTo(small);
    Payloads.verify(first.getSource(), first.getSourceInline().toByteArray());
    assertThat(second.getSourceInline().isEmpty()).isTrue();
    assertThat(second.getSource().getSize()).isEqualTo(large.length);
  }

  private void submit(String workspace, byte[] archive) throws Exception {
    stub.admin.submit(SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg("acme").setName(workspace))
        .setType(JobType.newBuilder().setApply(ApplyJob.getDefaultInstance())).build(), archive);
  }

  private static JobAssignment assignment(AgentClient.Session session, String workspace) {
    return session.received.stream().filter(ServerMessage::hasAssignment)
        .map(ServerMessage::getAssignment)
        .filter(a -> a.getWorkspace().getName().equals(workspace)).findFirst().orElseThrow();
  }

  private static byte[] archive(int size) {
    byte[] bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return bytes;
  }
}
