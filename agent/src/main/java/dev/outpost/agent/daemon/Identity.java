package dev.outpost.agent.daemon;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A private key, the certificate chain that goes with it, and when the agent received it (for
 * enrolled certificates; null for an operator's).
 */
record Identity(PrivateKey key, List<X509Certificate> chain, Instant receivedAt) {
  Identity {
    chain = List.copyOf(chain);
  }

  Identity(PrivateKey key, List<X509Certificate> chain) {
    this(key, chain, null);
  }

  X509Certificate certificate() {
    return chain.get(0);
  }

  Instant notBefore() {
    return certificate().getNotBefore().toInstant();
  }

  Instant notAfter() {
    return certificate().getNotAfter().toInstant();
  }

  String serial() {
    return certificate().getSerialNumber().toString(16);
  }

  /**
   * Renewal is due once two thirds of the lifetime have passed. The lifetime counts from when
   * the certificate was received, not from its notBefore: issuers backdate notBefore (for clock
   * skew) by more than a short lifetime lasts. At least a second passes between renewals.
   */
  Instant renewAt() {
    Instant start = receivedAt == null || receivedAt.isBefore(notBefore()) ? notBefore()
        : receivedAt;
    Duration lifetime = Duration.between(start, notAfter());
    Instant due = start.plus(lifetime.multipliedBy(2).dividedBy(3));
    return due.isBefore(start.plusSeconds(1)) ? start.plusSeconds(1) : due;
  }
}
