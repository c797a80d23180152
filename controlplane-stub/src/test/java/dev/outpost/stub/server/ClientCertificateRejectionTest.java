package dev.outpost.stub.server;

import static dev.outpost.stub.server.StubFixture.TRUST_DOMAIN;
import static dev.outpost.stub.server.StubFixture.assertStatus;
import static dev.outpost.stub.server.StubFixture.failure;
import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.stub.pki.AgentIdentity;
import dev.outpost.stub.pki.CertificateAuthority;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.SSLHandshakeException;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Provisioner calls with a client certificate the stub must not accept. */
class ClientCertificateRejectionTest {
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

  private StubFixture.Credential issue(String org, KeyPurposeId eku, Instant notBefore,
      Instant notAfter) {
    KeyPair pair = CertificateAuthority.newEcKeyPair();
    return new StubFixture.Credential(pair.getPrivate(), stub.ca.issue(pair.getPublic(),
        "CN=odd,O=" + org, List.of(new GeneralName(GeneralName.uniformResourceIdentifier,
            AgentIdentity.uri(TRUST_DOMAIN, org, "odd"))), eku, KeyUsage.digitalSignature,
        notBefore, notAfter));
  }

  static void assertHandshakeFails(StatusRuntimeException e) {
    assertThat(e.getStatus().getCode()).as(e.getStatus().toString())
        .isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e).hasRootCauseInstanceOf(SSLHandshakeException.class);
  }

  @Test
  void expiredCertificate_failsHandshake() throws Exception {
    Instant now = Instant.now();
    var expired = issue("acme", KeyPurposeId.id_kp_clientAuth, now.minus(Duration.ofDays(2)),
        now.minus(Duration.ofDays(1)));
    AgentClient client = stub.agent(expired, stub.acmeKey);
    assertHandshakeFails(failure(client::heartbeat));
    stub.assertOthersStillServed();
  }

  @Test
  void certificateExpiredAtControlPlaneClock_unauthenticated() throws Exception {
    AgentClient client = stub.agent(stub.credential("acme", "a1"), stub.acmeKey);
    client.heartbeat();
    // A connection opened while the certificate was valid outlives it.
    stub.clock.shift(Duration.ofHours(2));
    assertStatus(client::heartbeat, Status.Code.UNAUTHENTICATED, "expired at");
    stub.clock.shift(Duration.ZERO);
    stub.assertOthersStillServed();
  }

  @Test
  void notYetValidCertificate_failsHandshake() throws Exception {
    Instant now = Instant.now();
    var future = issue("acme", KeyPurposeId.id_kp_clientAuth, now.plus(Duration.ofDays(1)),
        now.plus(Duration.ofDays(2)));
    assertHandshakeFails(failure(stub.agent(future, stub.acmeKey)::heartbeat));
    stub.assertOthersStillServed();
  }

  @Test
  void certificateNotYetValidAtControlPlaneClock_unauthenticated() throws Exception {
    stub.clock.shift(Duration.ofHours(-1));
    AgentClient client = stub.agent(stub.credential("acme", "a1"), stub.acmeKey);
    assertStatus(client::heartbeat, Status.Code.UNAUTHENTICATED, "is not valid before");
    stub.clock.shift(Duration.ZERO);
    stub.assertOthersStillServed();
  }

  @Test
  void certificateOfAnotherCa_failsHandshake() throws Exception {
    CertificateAuthority other = CertificateAuthority.create("Other CA", Duration.ofDays(1));
    KeyPair pair = CertificateAuthority.newEcKeyPair();
    var foreign = new StubFixture.Credential(pair.getPrivate(), other.issueClient(
        pair.getPublic(), TRUST_DOMAIN, "acme", "intruder", Duration.ofHours(1)));
    assertHandshakeFails(failure(stub.agent(foreign, stub.acmeKey)::heartbeat));
    stub.assertOthersStillServed();
  }

  @Test
  void certificateWithoutClientAuthUsage_unauthenticated() throws Exception {
    Instant now = Instant.now();
    // No extended key usage at all passes the JDK's handshake checks; the stub requires it.
    var noEku = issue("acme", null, now.minus(Duration.ofMinutes(1)), now.plus(Duration.ofHours(1)));
    assertStatus(stub.agent(noEku, stub.acmeKey)::heartbeat, Status.Code.UNAUTHENTICATED,
        "lacks the clientAuth extended key usage");
    stub.assertOthersStillServed();
  }

  @Test
  void certificateForServerAuthOnly_failsHandshake() throws Exception {
    Instant now = Instant.now();
    var serverOnly = issue("acme", KeyPurposeId.id_kp_serverAuth, now.minus(Duration.ofMinutes(1)),
        now.plus(Duration.ofHours(1)));
    assertHandshakeFails(failure(stub.agent(serverOnly, stub.acmeKey)::heartbeat));
    stub.assertOthersStillServed();
  }

  @Test
  void noClientCertificate_unauthenticated() throws Exception {
    assertStatus(stub.agent(null, stub.acmeKey)::heartbeat, Status.Code.UNAUTHENTICATED,
        "a client certificate is required");
    stub.assertOthersStillServed();
  }

  @Test
  void certificateOfOrgAWithKeyOfOrgB_permissionDenied() throws Exception {
    assertStatus(stub.agent(stub.credential("acme", "a1"), stub.betaKey)::heartbeat,
        Status.Code.PERMISSION_DENIED, "belongs to org acme but the org key");
    stub.assertOthersStillServed();
  }

  @Test
  void revokedCertificateSerial_unauthenticatedAndSessionEnded() throws Exception {
    var revoked = stub.credential("acme", "a1");
    AgentClient client = stub.agent(revoked, stub.acmeKey);
    AgentClient.Session session = client.connect("a1", 1);
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(session::welcomed);
    String serial = revoked.cert().getSerialNumber().toString(16);
    stub.admin.blocking(10).revokeCertificate(dev.outpost.proto.v1.RevokeCertificateRequest
        .newBuilder().setSerial(serial.toUpperCase()).build());
    Status ended = session.ended.get(1, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(ended.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(ended.getDescription()).isEqualTo("certificate " + serial + " was revoked");
    assertThat(session.received).anyMatch(m -> m.hasClosing()
        && m.getClosing().getReason().contains("was revoked"));
    assertStatus(client::heartbeat, Status.Code.UNAUTHENTICATED,
        "certificate " + serial + " was revoked");
    assertThat(stub.store.auditEvents("acme")).anyMatch(e -> e.getKind().equals("cert.revoked"));
    stub.assertOthersStillServed();
  }
}
