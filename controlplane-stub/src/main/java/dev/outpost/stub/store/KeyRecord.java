package dev.outpost.stub.store;

import java.time.Instant;
import java.util.Map;

/** A stored org key: its hash only, never the secret. */
public record KeyRecord(String id, String org, byte[] hash, String description,
    Map<String, String> tags, Instant createdAt, Instant expiresAt, Instant revokedAt) {

  public KeyRecord {
    tags = Map.copyOf(tags);
  }

  public boolean usableAt(Instant now) {
    return revokedAt == null && (expiresAt == null || now.isBefore(expiresAt));
  }

  public KeyRecord revoked(Instant at) {
    return new KeyRecord(id, org, hash, description, tags, createdAt, expiresAt, at);
  }
}
