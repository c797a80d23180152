package dev.outpost.stub.server;

import dev.outpost.stub.store.IssuedCertificate;
import dev.outpost.stub.store.KeyRecord;
import io.grpc.Status;
import io.grpc.StatusException;
import java.math.BigInteger;
import java.time.Instant;
import java.util.Optional;

/**
 * Takes away an agent's access while it is connected: the interceptor refuses new calls, but a
 * Connect stream opened before a revocation or expiry lives on unless it is ended here. The
 * design promises that within one second: revocations end sessions at once, and
 * {@link #endExpiredSessions()} runs every second for keys and certificates that expire.
 */
final class Revocations {
  private final ControlPlane plane;

  Revocations(ControlPlane plane) {
    this.plane = plane;
  }

  KeyRecord revokeKey(String id) throws StatusException {
    KeyRecord key = plane.store().updateKey(id,
        k -> k.revokedAt() == null ? k.revoked(plane.now()) : k)
        .orElseThrow(() -> Status.NOT_FOUND.withDescription("no key " + id).asException());
    plane.audit("key.revoked", new Principal(key.org(), "", key.id(), "", null), "", "");
    plane.endSessions(s -> s.principal.keyId().equals(id),
        Status.UNAUTHENTICATED.withDescription("org key " + id + " was revoked"));
    return key;
  }

  /** Revokes a serial (lowercase hex; "0x", colons and upper case, as openssl prints it, too). */
  String revokeCertificate(String presented) throws StatusException {
    String serial = normalize(presented);
    boolean first = plane.store().revokeCertificate(serial, plane.now());
    Optional<IssuedCertificate> issued = plane.store().issuedCertificate(serial);
    if (first) {
      // An operator certificate is not in the store; a session using it still names its agent.
      Principal whose = issued.map(c -> new Principal(c.org(), c.agentName(), c.keyId(), serial,
          c.notAfter())).or(() -> plane.sessions().stream().map(s -> s.principal)
              .filter(p -> p.certSerial().equals(serial)).findFirst()).orElse(null);
      plane.audit("cert.revoked", whose, "", "serial " + serial
          + (issued.isPresent() ? "" : " (not issued by this control plane)"));
    }
    plane.endSessions(s -> s.principal.certSerial().equals(serial),
        Status.UNAUTHENTICATED.withDescription("certificate " + serial + " was revoked"));
    return serial;
  }

  /** Ends sessions whose key expired or whose certificate's validity ended. */
  void endExpiredSessions() {
    Instant now = plane.now();
    plane.sessions().stream().map(s -> s.principal.keyId()).distinct()
        .flatMap(id -> plane.store().key(id).stream()).filter(k -> !k.usableAt(now))
        .forEach(k -> plane.endSessions(s -> s.principal.keyId().equals(k.id()),
            Status.UNAUTHENTICATED.withDescription(OrgKeys.problem(k))));
    plane.endSessions(s -> s.principal.certNotAfter() != null
        && now.isAfter(s.principal.certNotAfter()), Status.UNAUTHENTICATED.withDescription(
            "the session's client certificate expired; renew it and reconnect"));
  }

  static String normalize(String presented) throws StatusException {
    String hex = presented.trim().toLowerCase().replace(":", "");
    if (hex.startsWith("0x")) {
      hex = hex.substring(2);
    }
    if (!hex.matches("[0-9a-f]{1,64}")) {
      throw Status.INVALID_ARGUMENT.withDescription("certificate serial '" + presented
          + "' is not hexadecimal").asException();
    }
    return new BigInteger(hex, 16).toString(16);
  }
}
