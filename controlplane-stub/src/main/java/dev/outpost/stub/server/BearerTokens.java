package dev.outpost.stub.server;

import dev.outpost.proto.ProtocolVersion;
import io.grpc.Metadata;

final class BearerTokens {
  private BearerTokens() {}

  /** The token of an "authorization: Bearer ..." header, or null when there is none. */
  static String from(Metadata headers) {
    String value = headers.get(ProtocolVersion.AUTHORIZATION);
    if (value == null || !value.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    return value.substring(7).trim();
  }
}
