package dev.outpost.agent.daemon;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** A private key and the certificate chain that goes with it. */
record Identity(PrivateKey key, List<X509Certificate> chain) {
  Identity {
    chain = List.copyOf(chain);
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

  /** Renewal is due once two thirds of the lifetime have passed. */
  Instant renewAt() {
    Duration lifetime = Duration.between(notBefore(), notAfter());
    return notBefore().plus(lifetime.multipliedBy(2).dividedBy(3));
  }
}
