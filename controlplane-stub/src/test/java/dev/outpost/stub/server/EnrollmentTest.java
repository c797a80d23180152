package dev.outpost.stub.server;

import static dev.outpost.stub.server.StubFixture.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.EnrollRequest;
import dev.outpost.proto.v1.EnrollResponse;
import dev.outpost.stub.pki.AgentIdentity;
import dev.outpost.stub.pki.CertificateAuthority;
import dev.outpost.stub.pki.Pem;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Enrollment over server-authenticated TLS: the org key and a CSR make a client certificate. */
class EnrollmentTest {
  @TempDir
  Path dir;
  StubFixture stub;
  AgentClient anonymous;

  @BeforeEach
  void start() throws Exception {
    stub = StubFixture.start(dir, c -> c.withTlsMin("1.3"));
    anonymous = stub.agent(null, stub.acmeKey);
  }

  @AfterEach
  void stop() throws Exception {
    stub.close();
  }

  private EnrollResponse enroll(AgentClient client, String name, byte[] csr) {
    return client.enrollment().enroll(EnrollRequest.newBuilder().setAgentName(name)
        .setCsrDer(ByteString.copyFrom(csr)).build());
  }

  @Test
  void enroll_ecCsr_issuesCertificateOfTheKeysOrgThatWorksForProvisionerCalls() throws Exception {
    KeyPair pair = CertificateAuthority.newEcKeyPair();
    EnrollResponse response = enroll(anonymous, "edge-1", Csrs.der(pair, "CN=edge-1", null));

    Path pem = Files.writeString(dir.resolve("edge-1.pem"), response.getCertificateChainPem());
    X509Certificate cert = Pem.readCertificates(pem).get(0);
    assertThat(AgentIdentity.of(cert)).contains(
        new AgentIdentity(StubFixture.TRUST_DOMAIN, "acme", "edge-1"));
    assertThat(cert.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2");
    assertThat(response.getAgentId()).isEqualTo("acme/edge-1");
    assertThat(response.getCaBundlePem()).isEqualTo(Pem.encode(stub.ca.certificate()));
    Duration lifetime = Duration.between(Times.instant(response.getNotBefore()),
        Times.instant(response.getNotAfter()));
    assertThat(lifetime).isBetween(Duration.ofHours(24), Duration.ofHours(24).plusMinutes(6));
    String serial = cert.getSerialNumber().toString(16);
    assertThat(stub.store.issuedCertificate(serial)).hasValueSatisfying(c -> {
      assertThat(c.org()).isEqualTo("acme");
      assertThat(c.agentName()).isEqualTo("edge-1");
    });
    assertThat(stub.store.auditEvents("acme")).anyMatch(e -> e.getKind().equals("agent.enrolled")
        && e.getDetail().contains(serial) && e.getAgentId().equals("acme/edge-1")
        && e.getKeyId().equals(StubFixture.keyId(stub.acmeKey)));

    AgentClient enrolled = stub.agent(new StubFixture.Credential(pair.getPrivate(), cert),
        stub.acmeKey);
    assertThat(enrolled.heartbeat().getLeasesList()).isEmpty();
  }

  @Test
  void enroll_rsa2048Csr_isAccepted() throws Exception {
    EnrollResponse response = enroll(anonymous, "rsa-agent", Csrs.der(Csrs.rsa(2048),
        "CN=rsa-agent", null));
    assertThat(response.getAgentId()).isEqualTo("acme/rsa-agent");
  }

  @Test
  void truncatedCsr_invalidArgument() throws Exception {
    byte[] csr = Csrs.der(CertificateAuthority.newEcKeyPair(), "CN=a", null);
    assertStatus(() -> enroll(anonymous, "a", Arrays.copyOf(csr, csr.length / 2)),
        Status.Code.INVALID_ARGUMENT, "not a DER PKCS#10 certificate signing request");
    stub.assertOthersStillServed();
  }

  @Test
  void csrWithRsa1024Key_invalidArgument() throws Exception {
    assertStatus(() -> enroll(anonymous, "a", Csrs.der(Csrs.rsa(1024), "CN=a", null)),
        Status.Code.INVALID_ARGUMENT, "RSA key of 1024 bits is too weak; at least 2048");
    stub.assertOthersStillServed();
  }

  @Test
  void csrAskingForAnotherOrgsIdentity_invalidArgument() throws Exception {
    String beta = AgentIdentity.uri(StubFixture.TRUST_DOMAIN, "beta", "a");
    assertStatus(() -> enroll(anonymous, "a", Csrs.der(CertificateAuthority.newEcKeyPair(),
        "CN=a", beta)), Status.Code.INVALID_ARGUMENT, "the CSR asks for the identity " + beta);
    assertStatus(() -> enroll(anonymous, "a", Csrs.der(CertificateAuthority.newEcKeyPair(),
        "CN=a,O=beta", null)), Status.Code.INVALID_ARGUMENT, "organization beta (subject O=beta)");
    stub.assertOthersStillServed();
  }

  @Test
  void csrWithBadSignature_invalidArgument() throws Exception {
    byte[] csr = Csrs.der(CertificateAuthority.newEcKeyPair(), "CN=a", null);
    csr[csr.length - 5] ^= 0x01;
    assertStatus(() -> enroll(anonymous, "a", csr), Status.Code.INVALID_ARGUMENT, "signature");
    stub.assertOthersStillServed();
  }

  @Test
  void invalidAgentName_invalidArgument() throws Exception {
    assertStatus(() -> enroll(anonymous, "no spaces/allowed",
        Csrs.der(CertificateAuthority.newEcKeyPair(), "CN=a", null)),
        Status.Code.INVALID_ARGUMENT, "agent_name 'no spaces/allowed' is invalid");
  }

  @Test
  void enrollWithRevokedKey_unauthenticated() throws Exception {
    String key = stub.createKey("acme", null);
    stub.admin.blocking(10).revokeKey(dev.outpost.proto.v1.RevokeKeyRequest.newBuilder()
        .setId(StubFixture.keyId(key)).build());
    assertStatus(() -> enroll(stub.agent(null, key), "a",
        Csrs.der(CertificateAuthority.newEcKeyPair(), "CN=a", null)),
        Status.Code.UNAUTHENTICATED, "was revoked");
    assertThat(stub.store.auditEvents("")).anyMatch(e -> e.getKind().equals("auth.refused"));
    stub.assertOthersStillServed();
  }

  @Test
  void certLifetime_comesFromSettings() throws Exception {
    try (StubFixture shortLived = StubFixture.start(dir.resolve("short"), c ->
        new StubServer.Config(c.agentListen(), c.adminListen(), c.serverCert(), c.serverKey(),
            c.clientCa(), c.caKey(), c.adminToken(),
            c.settings().withCertLifetime(Duration.ofMinutes(10)), c.maxPayloadBytes(),
            List.of(), "1.3"))) {
      EnrollResponse response = enroll(shortLived.agent(null, shortLived.acmeKey), "a",
          Csrs.der(CertificateAuthority.newEcKeyPair(), "CN=a", null));
      assertThat(Duration.between(shortLived.clock.instant(), Times.instant(
          response.getNotAfter()))).isBetween(Duration.ofMinutes(9), Duration.ofMinutes(10));
    }
  }
}
