package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.v1.HeartbeatRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.LeaseRef;
import dev.outpost.proto.v1.ProvisionerGrpc;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Callers without the right credentials get no job: each negative case runs against the real
 * stub over real TLS, with a job queued that a wrongly admitted agent would take.
 */
class AuthenticationIT {
  @TempDir
  Path tmp;

  private StubProcess stub;
  private String key;
  private Path keyFile;
  private Job queued;

  @BeforeEach
  void startStubWithAQueuedJob() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    key = stub.createKey("acme", Map.of());
    keyFile = Files.writeString(tmp.resolve("org.key"), key + "\n");
    queued = stub.submitApply(Jars.repoRoot().resolve("examples/hello"), "acme", "ws",
        Map.of(), Map.of("api_token", "irrelevant-secret"));
  }

  @AfterEach
  void stop() throws Exception {
    stub.close();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  @Test
  void noClientCertificate_isRefusedUnauthenticated_andGetsNoJob() throws Exception {
    ManagedChannel channel = NettyChannelBuilder.forTarget(stub.agentTarget(),
        TlsChannelCredentials.newBuilder().trustManager(stub.pki.ca().toFile()).build()).build();
    try {
      ProvisionerGrpc.ProvisionerBlockingStub provisioner = ProvisionerGrpc.newBlockingStub(channel)
          .withCallCredentials(orgKey(key)).withDeadlineAfter(10, TimeUnit.SECONDS);
      StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
          () -> provisioner.heartbeat(HeartbeatRequest.newBuilder().addLeases(LeaseRef.newBuilder()
              .setJobId(queued.getId()).setLeaseId("guess")).build()));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(e.getStatus().getDescription()).contains("client certificate is required");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    assertThat(stub.job(queued.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_QUEUED);
    assertThat(stub.log()).contains("refused outpost.v1.Provisioner/Heartbeat");
  }

  @Test
  void wrongOrgKeyWithAValidCertificate_isRefusedUnauthenticated() throws Exception {
    TestPki.Client client = stub.pki.client("acme", "agent-1");
    ManagedChannel channel = NettyChannelBuilder.forTarget(stub.agentTarget(),
        TlsChannelCredentials.newBuilder().trustManager(stub.pki.ca().toFile())
            .keyManager(client.cert().toFile(), client.key().toFile()).build()).build();
    try {
      for (String wrong : List.of("opk_000000000000_" + "A".repeat(43), "not-a-key",
          key.substring(0, key.length() - 1) + (key.endsWith("A") ? "B" : "A"))) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class,
            () -> ProvisionerGrpc.newBlockingStub(channel).withCallCredentials(orgKey(wrong))
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .heartbeat(HeartbeatRequest.getDefaultInstance()));
        assertThat(e.getStatus().getCode()).as(wrong).isEqualTo(Status.Code.UNAUTHENTICATED);
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    assertThat(stub.job(queued.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_QUEUED);
  }

  @Test
  void certificateFromAnotherCa_failsTheHandshake_agentExitsWithAuthCode() throws Exception {
    TestPki other = TestPki.create(tmp.resolve("other-pki"));
    TestPki.Client foreign = other.client("acme", "intruder");
    AgentProcess agent = startAgent(foreign.cert(), foreign.key(), keyFile, stub.agentTarget());

    assertThat(agent.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.AUTH);
    assertOneErrorLine(agent.output(), "TLS handshake failed",
        "rejected the agent's client certificate");
    assertThat(stub.job(queued.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_QUEUED);
  }

  @Test
  void wrongOrgKey_isRefusedUnauthenticated_agentExitsWithAuthCode() throws Exception {
    TestPki.Client client = stub.pki.client("acme", "agent-1");
    Path wrongKey = Files.writeString(tmp.resolve("wrong.key"),
        "opk_000000000000_" + "A".repeat(43) + "\n");
    AgentProcess agent = startAgent(client.cert(), client.key(), wrongKey, stub.agentTarget());

    assertThat(agent.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.AUTH);
    assertOneErrorLine(agent.output(), "refused the agent's credentials", "is not known");
    assertThat(stub.job(queued.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_QUEUED);
  }

  @Test
  void controlPlaneNotListening_exitsUnreachable_withTheAddress() throws Exception {
    TestPki.Client client = stub.pki.client("acme", "agent-1");
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    AgentProcess agent = startAgent(client.cert(), client.key(), keyFile,
        "localhost:" + closedPort, "--connect-timeout", "PT3S");

    assertThat(agent.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.UNREACHABLE);
    assertOneErrorLine(agent.output(), "cannot reach the control plane at localhost:" + closedPort);
  }

  @Test
  void missingCertificateFile_exitsWithConfigCode_namingTheSetting() throws Exception {
    TestPki.Client client = stub.pki.client("acme", "agent-1");
    AgentProcess agent = startAgent(tmp.resolve("absent.pem"), client.key(), keyFile,
        stub.agentTarget());

    assertThat(agent.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.CONFIG);
    assertOneErrorLine(agent.output(), "--cert", "absent.pem", "does not exist");
  }

  @Test
  void keyFileWithoutAKey_exitsWithConfigCode_namingTheSetting() throws Exception {
    TestPki.Client client = stub.pki.client("acme", "agent-1");
    Path garbage = Files.writeString(tmp.resolve("garbage.key"), "this is not a key\n");
    AgentProcess agent = startAgent(client.cert(), garbage, keyFile, stub.agentTarget());

    assertThat(agent.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.CONFIG);
    assertOneErrorLine(agent.output(), "--key", "garbage.key", "no PEM private key");
  }

  @Test
  void missingOrgKeyFile_exitsWithConfigCode_namingTheSetting() throws Exception {
    TestPki.Client client = stub.pki.client("acme", "agent-1");
    AgentProcess agent = startAgent(client.cert(), client.key(), tmp.resolve("absent.key"),
        stub.agentTarget());

    assertThat(agent.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.CONFIG);
    assertOneErrorLine(agent.output(), "--org-key-file", "absent.key");
  }

  @Test
  void submittingADirectoryWithoutTerraformFiles_exitsWithConfigCode() throws Exception {
    Path empty = Files.createDirectories(tmp.resolve("no-config"));
    Files.writeString(empty.resolve("README"), "nothing to run here\n");
    Process submit = new ProcessBuilder(Jars.java(), "-jar", Jars.stub().toString(), "job",
        "submit", empty.toString(), "--org", "acme", "--workspace", "ws", "--data-dir",
        stub.dataDir.toString()).redirectErrorStream(true).start();
    String output = new String(submit.getInputStream().readAllBytes());
    assertThat(submit.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(submit.exitValue()).isEqualTo(ExitCodes.CONFIG);
    assertOneErrorLine(output, "contains no Terraform configuration");
  }

  private AgentProcess startAgent(Path cert, Path certKey, Path orgKey, String target,
      String... flags) throws IOException {
    List<String> extra = new java.util.ArrayList<>(List.of("--name", "agent-1"));
    extra.addAll(List.of(flags));
    return AgentProcess.start(new AgentProcess.Options(target, stub.pki.ca(), cert, certKey,
        orgKey, tmp.resolve("state"), tmp.resolve("work"), extra),
        tmp.resolve("agent-" + System.nanoTime() + ".log"));
  }

  /** Expected failures print one error line, with the given fragments, and no stack trace. */
  private static void assertOneErrorLine(String output, String... fragments) {
    List<String> errors = Arrays.stream(output.split("\n"))
        .filter(l -> l.startsWith("outpost-agent: ") || l.startsWith("error: ")).toList();
    assertThat(errors).as(output).hasSize(1);
    assertThat(errors.get(0)).contains(fragments);
    assertThat(output).doesNotContain("\tat ").doesNotContain("Exception");
  }

  private static CallCredentials orgKey(String key) {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(ProtocolVersion.AUTHORIZATION, "Bearer " + key);
        headers.put(ProtocolVersion.HEADER, ProtocolVersion.current());
        applier.apply(headers);
      }
    };
  }
}
