package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.AuditEvent;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.ListAgentsRequest;
import dev.outpost.proto.v1.ListKeysRequest;
import dev.outpost.proto.v1.RevokeKeyRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The agent's identity against a real stub: enrollment, renewal, operator certificates made with
 * openssl, key rotation and revocation, and a server certificate for the wrong name.
 */
class IdentityIT {
  private static final Path HELLO = Jars.repoRoot().resolve("examples/hello");

  @TempDir
  Path tmp;

  private StubProcess stub;
  private final List<AgentProcess> agents = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (AgentProcess a : agents) {
      a.close();
    }
    if (stub != null) {
      stub.close();
    }
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  private void startStub(List<String> serveFlags) throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")),
        List.of("localhost", "127.0.0.1"), serveFlags);
  }

  private AgentProcess agent(Path cert, Path key, Path orgKey, List<String> extra)
      throws IOException {
    List<String> flags = new ArrayList<>(List.of("--name", "agent-1"));
    flags.addAll(extra);
    AgentProcess a = AgentProcess.start(new AgentProcess.Options(stub.agentTarget(),
        stub.pki.ca(), cert, key, orgKey, tmp.resolve("state"), tmp.resolve("work"), flags),
        tmp.resolve("agent-" + agents.size() + ".log"));
    agents.add(a);
    return a;
  }

  private Path keyFile(String name, String secret) throws IOException {
    return Files.writeString(tmp.resolve(name), secret + "\n");
  }

  private boolean connected(String agentName) {
    return stub.admin().blocking(10).listAgents(ListAgentsRequest.getDefaultInstance())
        .getAgentsList().stream().anyMatch(a -> a.getName().equals(agentName) && a.getConnected());
  }

  private List<AuditEvent> events(String kind) {
    return stub.audit().stream().filter(e -> e.getKind().equals(kind)).toList();
  }

  @Test
  void runWithoutCertificate_enrollsWithALocalKey_andRunsAJob() throws Exception {
    startStub(List.of());
    Path orgKey = keyFile("org.key", stub.createKey("acme", Map.of()));
    agent(null, null, orgKey, List.of());

    Job job = stub.submitApply(HELLO, "acme", "ws", Map.of(), Map.of("api_token", "t0ken-1234"));
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(90));
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);

    Path key = tmp.resolve("state/identity/agent.key");
    // The key the agent generated is an EC key and belongs to the certificate it enrolled for.
    java.security.PrivateKey privateKey = dev.outpost.stub.pki.Pem.readPrivateKey(key);
    assertThat(privateKey.getAlgorithm()).isEqualTo("EC");
    java.security.Signature signer = java.security.Signature.getInstance("SHA256withECDSA");
    signer.initSign(privateKey);
    signer.update(new byte[] {1, 2, 3});
    byte[] signature = signer.sign();
    java.security.Signature verifier = java.security.Signature.getInstance("SHA256withECDSA");
    verifier.initVerify(dev.outpost.stub.pki.Pem.readCertificates(
        tmp.resolve("state/identity/agent.pem")).get(0).getPublicKey());
    verifier.update(new byte[] {1, 2, 3});
    assertThat(verifier.verify(signature)).isTrue();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");
    assertThat(events("agent.enrolled")).hasSize(1);
  }

  @Test
  void enrollCommand_writesKeyAndCertificate_andExitsZero() throws Exception {
    startStub(List.of());
    Path orgKey = keyFile("org.key", stub.createKey("acme", Map.of()));
    Process enroll = new ProcessBuilder(Jars.java(), "-jar", Jars.agent().toString(), "enroll",
        "--control-plane", stub.agentTarget(), "--ca", stub.pki.ca().toString(),
        "--org-key-file", orgKey.toString(), "--state-dir", tmp.resolve("state").toString(),
        "--work-dir", tmp.resolve("work").toString(), "--name", "agent-9")
        .redirectErrorStream(true).start();
    String output = new String(enroll.getInputStream().readAllBytes());
    assertThat(enroll.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(enroll.exitValue()).as(output).isZero();
    assertThat(output).contains("enrolled agent agent-9", "certificate serial");
    assertThat(tmp.resolve("state/identity/agent.pem")).exists();
    assertThat(events("agent.enrolled")).singleElement()
        .satisfies(e -> assertThat(e.getOrg()).isEqualTo("acme"));
  }

  @Test
  void shortLivedCertificate_isRenewed_whileAJobKeepsRunning() throws Exception {
    startStub(List.of("--cert-lifetime", "PT9S"));
    Path orgKey = keyFile("org.key", stub.createKey("acme", Map.of()));
    agent(null, null, orgKey, List.of());
    Job job = stub.submitApply(HELLO, "acme", "ws", Map.of("gate", "release.gate"),
        Map.of("api_token", "t0ken-1234"));
    await().atMost(Duration.ofSeconds(60)).until(() -> stub.logs(job.getId()).stream()
        .anyMatch(e -> e.getMessage().contains("line 1: Hello")));

    // Renewal is due at two thirds of the 9 s lifetime; wait for it, not for a fixed time.
    await("renewed certificate").atMost(Duration.ofSeconds(30))
        .until(() -> events("agent.enrolled").size() >= 2);
    await("session on the renewed certificate").atMost(Duration.ofSeconds(30))
        .until(() -> events("session.opened").size() >= 2);
    assertThat(stub.job(job.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_RUNNING);

    Files.writeString(tmp.resolve("work").resolve(job.getId()).resolve("source/release.gate"), "");
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(60));
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
  }

  @ParameterizedTest
  @EnumSource(Openssl.KeyForm.class)
  void operatorCertificateMadeWithOpenssl_isAccepted(Openssl.KeyForm form) throws Exception {
    startStub(List.of());
    Path orgKey = keyFile("org.key", stub.createKey("acme", Map.of()));
    Openssl.Made made = Openssl.clientCertificate(tmp.resolve("openssl"), stub.pki, "acme",
        "agent-1", form);
    List<String> extra = made.passphrase() == null ? List.of()
        : List.of("--key-passphrase-file", made.passphrase().toString());
    AgentProcess a = agent(made.cert(), made.key(), orgKey, extra);
    await("agent connected with an openssl " + form + " key").atMost(Duration.ofSeconds(30))
        .until(() -> connected("agent-1") || !a.isAlive());
    assertThat(a.isAlive()).as(a.output()).isTrue();
  }

  @Test
  void rotatedCertificateFiles_areReadAgain_withoutARestart() throws Exception {
    startStub(List.of());
    Path orgKey = keyFile("org.key", stub.createKey("acme", Map.of()));
    Path dir = Files.createDirectories(tmp.resolve("mounted"));
    TestPki.Client first = stub.pki.client("acme", "agent-1");
    Path cert = Files.copy(first.cert(), dir.resolve("tls.crt"));
    Path key = Files.copy(first.key(), dir.resolve("tls.key"));
    AgentProcess a = agent(cert, key, orgKey, List.of());
    await().atMost(Duration.ofSeconds(30)).until(() -> connected("agent-1"));
    String firstSerial = serial(first.cert());

    // As cert-manager does: new files moved into place, key first.
    TestPki.Client second = stub.pki.client("acme", "agent-1");
    Files.copy(second.key(), dir.resolve("tls.key.new"));
    Files.move(dir.resolve("tls.key.new"), key, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.copy(second.cert(), dir.resolve("tls.crt.new"));
    Files.move(dir.resolve("tls.crt.new"), cert, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    await("a session on the new certificate").atMost(Duration.ofSeconds(30))
        .until(() -> events("session.opened").size() >= 2);

    // The old certificate is revoked: the agent, now on the new one, keeps working.
    stub.admin().blocking(10).revokeCertificate(dev.outpost.proto.v1.RevokeCertificateRequest
        .newBuilder().setSerial(firstSerial).build());
    Job job = stub.submitApply(HELLO, "acme", "ws", Map.of(), Map.of("api_token", "t0ken-1234"));
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(90));
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(a.isAlive()).isTrue();
  }

  private static String serial(Path certFile) throws Exception {
    try (var in = Files.newInputStream(certFile)) {
      return ((java.security.cert.X509Certificate) java.security.cert.CertificateFactory
          .getInstance("X.509").generateCertificate(in)).getSerialNumber().toString(16);
    }
  }

  @Test
  void keyRotation_newKeyFileOpensANewSession_oldKeyRevoked_noJobFails() throws Exception {
    startStub(List.of());
    TestPki.Client cert = stub.pki.client("acme", "agent-1");
    Path orgKey = keyFile("org.key", stub.createKey("acme", Map.of()));
    agent(cert.cert(), cert.key(), orgKey, List.of());
    Job job = stub.submitApply(HELLO, "acme", "ws", Map.of("gate", "release.gate"),
        Map.of("api_token", "t0ken-1234"));
    await().atMost(Duration.ofSeconds(60)).until(() -> stub.logs(job.getId()).stream()
        .anyMatch(e -> e.getMessage().contains("line 1: Hello")));
    String oldId = stub.admin().blocking(10).listKeys(ListKeysRequest.newBuilder().setOrg("acme")
        .build()).getKeys(0).getId();

    String newKey = stub.createKey("acme", Map.of());
    Path staged = keyFile("org.key.new", newKey);
    Files.move(staged, orgKey, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    await("a session on the new key").atMost(Duration.ofSeconds(30))
        .until(() -> events("session.opened").stream()
            .anyMatch(e -> !e.getKeyId().equals(oldId)));
    stub.admin().blocking(10).revokeKey(RevokeKeyRequest.newBuilder().setId(oldId).build());

    Files.writeString(tmp.resolve("work").resolve(job.getId()).resolve("source/release.gate"), "");
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(60));
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(agents.get(0).isAlive()).isTrue();
  }

  @Test
  void revokedKey_interruptsTheRunningJob_andANewKeyFileDeliversItsResult() throws Exception {
    startStub(List.of());
    TestPki.Client cert = stub.pki.client("acme", "agent-1");
    String first = stub.createKey("acme", Map.of());
    Path orgKey = keyFile("org.key", first);
    AgentProcess a = agent(cert.cert(), cert.key(), orgKey, List.of("--auth-wait", "PT60S"));
    Job job = stub.submitApply(HELLO, "acme", "ws", Map.of("gate", "release.gate"),
        Map.of("api_token", "t0ken-1234"));
    await().atMost(Duration.ofSeconds(60)).until(() -> stub.logs(job.getId()).stream()
        .anyMatch(e -> e.getMessage().contains("line 1: Hello")));
    String firstId = first.substring(4, 16);

    stub.admin().blocking(10).revokeKey(RevokeKeyRequest.newBuilder().setId(firstId).build());
    await("session ended").atMost(Duration.ofSeconds(1)).until(() -> !connected("agent-1"));
    // The job's Terraform is interrupted (SIGINT): nothing of it keeps running.
    // The job's sandbox and Terraform name the job directory on their command lines.
    String jobDir = tmp.resolve("work").resolve(job.getId()).toString();
    await("terraform interrupted").atMost(Duration.ofSeconds(30))
        .until(() -> Processes.withMarker(jobDir).isEmpty());

    Path staged = keyFile("org.key.new", stub.createKey("acme", Map.of()));
    Files.move(staged, orgKey, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(60));
    assertThat(done.getStatus()).isEqualTo(JobStatus.JOB_STATUS_CANCELLED);
    assertThat(done.getState().getSize()).as("state delivered").isPositive();
    assertThat(a.isAlive()).isTrue();
  }

  @Test
  void revokedKey_withoutNewCredentials_exitsWithTheAuthCode() throws Exception {
    startStub(List.of());
    TestPki.Client cert = stub.pki.client("acme", "agent-1");
    String key = stub.createKey("acme", Map.of());
    AgentProcess a = agent(cert.cert(), cert.key(), keyFile("org.key", key), List.of());
    await().atMost(Duration.ofSeconds(30)).until(() -> connected("agent-1"));

    stub.admin().blocking(10).revokeKey(RevokeKeyRequest.newBuilder()
        .setId(key.substring(4, 16)).build());
    assertThat(a.awaitExit(Duration.ofSeconds(30))).contains(ExitCodes.AUTH);
    assertThat(a.output()).contains("outpost-agent: ", "revoked", "waited 1 s");
  }

  @Test
  void serverCertificateForAnotherName_isRefused_withAMessageSayingSo() throws Exception {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")),
        List.of("elsewhere.example"), List.of());
    TestPki.Client cert = stub.pki.client("acme", "agent-1");
    AgentProcess a = agent(cert.cert(), cert.key(),
        keyFile("org.key", stub.createKey("acme", Map.of())), List.of());
    assertThat(a.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.AUTH);
    assertThat(a.output()).contains("does not match the host in --control-plane");
  }
}
