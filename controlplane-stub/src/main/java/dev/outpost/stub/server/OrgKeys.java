package dev.outpost.stub.server;

import dev.outpost.stub.auth.OrgKeySecret;
import dev.outpost.stub.store.KeyRecord;
import dev.outpost.stub.store.Store;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusException;
import java.time.Clock;
import java.util.Optional;

/** The org key check both agent-facing services (Enrollment, Provisioner) make on every call. */
final class OrgKeys {
  private final Store store;
  private final Clock clock;

  OrgKeys(Store store, Clock clock) {
    this.store = store;
    this.clock = clock;
  }

  /** The id part of the presented key, when it is in the key format at all (for the audit). */
  static String presentedId(Metadata headers) {
    return OrgKeySecret.parse(BearerTokens.from(headers)).map(OrgKeySecret::id).orElse("");
  }

  /** The presented key's record when the key is known, matches, and is neither revoked nor expired. */
  KeyRecord authenticate(Metadata headers) throws StatusException {
    String bearer = BearerTokens.from(headers);
    Optional<OrgKeySecret> presented = OrgKeySecret.parse(bearer);
    if (presented.isEmpty()) {
      throw Status.UNAUTHENTICATED.withDescription(bearer == null
          ? "no org key presented (authorization: Bearer opk_...)"
          : "the org key is malformed (expected opk_<12 hex>_<43 base64url>)").asException();
    }
    Optional<KeyRecord> key = store.key(presented.get().id())
        .filter(k -> presented.get().matches(k.hash()));
    if (key.isEmpty()) {
      throw Status.UNAUTHENTICATED.withDescription(
          "org key " + presented.get().id() + " is not known").asException();
    }
    if (!key.get().usableAt(clock.instant())) {
      throw Status.UNAUTHENTICATED.withDescription(problem(key.get())).asException();
    }
    return key.get();
  }

  /** Why a key that is not usable is not (revoked wins over expired). */
  static String problem(KeyRecord key) {
    return key.revokedAt() != null ? "org key " + key.id() + " was revoked"
        : "org key " + key.id() + " has expired (at " + key.expiresAt() + ")";
  }
}
