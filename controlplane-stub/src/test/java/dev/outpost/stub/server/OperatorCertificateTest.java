package dev.outpost.stub.server;

import static dev.outpost.stub.server.StubFixture.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.stub.pki.IssuerBindings;
import dev.outpost.stub.pki.Pem;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificates from an operator's PKI, made with the openssl command: without the Outpost URI
 * SAN they work only when their issuer is bound to one organization (serve --issuer-org).
 */
class OperatorCertificateTest {
  @TempDir
  Path dir;
  StubFixture stub;
  Path operatorCa;

  @BeforeEach
  void start() throws Exception {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "op-ca.key", "-out", "op-ca.pem", "-days", "2", "-subj", "/CN=Operator CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    operatorCa = dir.resolve("op-ca.pem");
    stub = StubFixture.start(dir.resolve("stub"), c -> c.withIssuerOrgs(
        List.of(new IssuerBindings.Binding(operatorCa, "beta"))));
  }

  @AfterEach
  void stop() throws Exception {
    stub.close();
  }

  private void openssl(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .start();
    String output = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command) + "\n" + output).isZero();
  }

  /** An RSA client certificate for CN=name signed by the given CA, with extra extensions. */
  private StubFixture.Credential issue(String name, Path caCert, Path caKey, String extensions)
      throws Exception {
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
        name + ".csr", "-subj", "/CN=" + name + "/O=Operations");
    Files.writeString(dir.resolve(name + ".ext"), "basicConstraints=CA:FALSE\n"
        + "keyUsage=critical,digitalSignature,keyEncipherment\n" + extensions);
    openssl("x509", "-req", "-in", name + ".csr", "-CA", caCert.toString(), "-CAkey",
        caKey.toString(), "-CAcreateserial", "-out", name + ".pem", "-days", "1", "-extfile",
        name + ".ext");
    return new StubFixture.Credential(Pem.readPrivateKey(dir.resolve(name + ".key")),
        Pem.readCertificates(dir.resolve(name + ".pem")).get(0));
  }

  @Test
  void certificateOfBoundIssuer_withoutUriSan_mapsToTheBoundOrg() throws Exception {
    var cert = issue("op-agent", operatorCa, dir.resolve("op-ca.key"),
        "extendedKeyUsage=clientAuth\n");
    AgentClient agent = stub.agent(cert, stub.betaKey);
    assertThat(agent.heartbeat().getLeasesList()).isEmpty();
    AgentClient.Session session = agent.connect("op-agent", 1);
    await().atMost(Duration.ofSeconds(5)).until(session::welcomed);
    var welcome = session.received.get(0).getWelcome();
    assertThat(welcome.getOrg()).isEqualTo("beta");
    assertThat(welcome.getAgentId()).isEqualTo("beta/op-agent");
    // The same certificate with another org's key is refused.
    assertStatus(stub.agent(cert, stub.acmeKey)::heartbeat, Status.Code.PERMISSION_DENIED,
        "belongs to org beta");
  }

  @Test
  void certificateOfUnboundIssuer_withoutUriSan_unauthenticated() throws Exception {
    // Signed by the stub's own CA (trusted by the handshake) but with no URI SAN.
    var cert = issue("anonymous", stub.pki.caCert(), stub.pki.caKey(),
        "extendedKeyUsage=clientAuth\n");
    assertStatus(stub.agent(cert, stub.acmeKey)::heartbeat, Status.Code.UNAUTHENTICATED,
        "certificate names no organization (no URI SAN spiffe://outpost.local/org/<org>/agent/"
            + "<name>) and its issuer is not bound to one organization (serve --issuer-org)");
    stub.assertOthersStillServed();
  }

  @Test
  void certificateOfBoundIssuer_namingAnotherOrg_permissionDenied() throws Exception {
    var cert = issue("sneaky", operatorCa, dir.resolve("op-ca.key"),
        "extendedKeyUsage=clientAuth\n"
            + "subjectAltName=URI:spiffe://outpost.local/org/acme/agent/sneaky\n");
    assertStatus(stub.agent(cert, stub.acmeKey)::heartbeat, Status.Code.PERMISSION_DENIED,
        "names org acme but its issuer is bound to org beta");
    stub.assertOthersStillServed();
  }

  @Test
  void issuerBoundToTwoOrgs_refusedAtStart() {
    var twice = List.of(new IssuerBindings.Binding(operatorCa, "acme"),
        new IssuerBindings.Binding(operatorCa, "beta"));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> IssuerBindings.load(twice))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bound to both org acme and org beta");
  }
}
