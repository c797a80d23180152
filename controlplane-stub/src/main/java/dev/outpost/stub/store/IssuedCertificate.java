package dev.outpost.stub.store;

import java.time.Instant;

/**
 * A client certificate the control plane signed at enrollment: its serial (lowercase hex, as
 * {@code BigInteger.toString(16)}), whom it binds, and with which org key it was asked for.
 */
public record IssuedCertificate(String serial, String org, String agentName, String keyId,
    Instant notBefore, Instant notAfter, Instant issuedAt) {}
