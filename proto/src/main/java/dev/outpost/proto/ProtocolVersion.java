package dev.outpost.proto;

import io.grpc.Metadata;

/**
 * The outpost.v1 protocol version this build speaks, and the metadata header that carries it.
 *
 * <p>History:
 * <ul>
 *   <li>1.0: first version: Enrollment, Provisioner (session with pushed dispatch, leases,
 *       heartbeats, sequence-numbered logs, chunked payloads, idempotent completion), Admin.</li>
 * </ul>
 */
public final class ProtocolVersion {
  public static final int MAJOR = 1;
  public static final int MINOR = 0;

  /** Sent by every client on every call, "MAJOR.MINOR". */
  public static final Metadata.Key<String> HEADER =
      Metadata.Key.of("outpost-protocol-version", Metadata.ASCII_STRING_MARSHALLER);

  /** Org keys (Provisioner, Enrollment) and the admin token (Admin) travel as a bearer token. */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private ProtocolVersion() {}

  public static String current() {
    return MAJOR + "." + MINOR;
  }

  public static dev.outpost.proto.v1.ProtocolVersion currentMessage() {
    return dev.outpost.proto.v1.ProtocolVersion.newBuilder().setMajor(MAJOR).setMinor(MINOR).build();
  }

  /**
   * Returns null when a peer speaking {@code peer} ("MAJOR.MINOR") can talk to this build, else
   * a message naming both versions.
   */
  public static String incompatibility(String peer) {
    if (peer == null || peer.isBlank()) {
      return "missing outpost-protocol-version header; this side speaks " + current();
    }
    String[] parts = peer.trim().split("\\.");
    try {
      int major = Integer.parseInt(parts[0]);
      if (parts.length != 2) {
        throw new NumberFormatException();
      }
      Integer.parseInt(parts[1]);
      if (major != MAJOR) {
        return "incompatible protocol version: peer speaks " + peer.trim() + ", this side speaks "
            + current() + " (the MAJOR versions must match)";
      }
      return null;
    } catch (NumberFormatException e) {
      return "malformed outpost-protocol-version '" + peer + "'; this side speaks " + current();
    }
  }
}
