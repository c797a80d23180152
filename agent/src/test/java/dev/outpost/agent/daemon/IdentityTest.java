package dev.outpost.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.stub.pki.CertificateAuthority;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class IdentityTest {
  private static final CertificateAuthority CA =
      CertificateAuthority.create("test", Duration.ofDays(1));

  private static Identity issued(Duration lifetime, Instant receivedAt) {
    KeyPair pair = CertificateAuthority.newEcKeyPair();
    X509Certificate cert = CA.issueClient(pair.getPublic(), "outpost.local", "acme", "a1",
        lifetime);
    return new Identity(pair.getPrivate(), List.of(cert), receivedAt);
  }

  @Test
  void renewalIsDueAtTwoThirdsOfTheLifetime_countedFromReceipt_notFromABackdatedNotBefore() {
    Instant received = Instant.now();
    Identity id = issued(Duration.ofHours(24), received);
    // The issuer backdates notBefore; the renewal point must still be ~16 h after receipt.
    assertThat(id.notBefore()).isBefore(received.minusSeconds(60));
    assertThat(Duration.between(received, id.renewAt()))
        .isBetween(Duration.ofHours(16).minusMinutes(1), Duration.ofHours(16).plusMinutes(1));
  }

  @Test
  void aVeryShortLifetime_stillWaitsAtLeastASecond() {
    Instant received = Instant.now();
    Identity id = issued(Duration.ofMillis(300), received);
    assertThat(id.renewAt()).isAfterOrEqualTo(received.plusSeconds(1));
  }

  @Test
  void anOperatorCertificate_countsFromNotBefore() {
    Identity id = issued(Duration.ofHours(3), null);
    Duration lifetime = Duration.between(id.notBefore(), id.notAfter());
    assertThat(id.renewAt()).isEqualTo(id.notBefore().plus(lifetime.multipliedBy(2).dividedBy(3)));
  }
}
