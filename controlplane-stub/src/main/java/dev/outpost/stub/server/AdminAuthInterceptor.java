package dev.outpost.stub.server;

import dev.outpost.proto.ProtocolVersion;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/** The Admin listener accepts only the operator's admin token, compared in constant time. */
final class AdminAuthInterceptor implements ServerInterceptor {
  private final byte[] token;

  AdminAuthInterceptor(String token) {
    this.token = token.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String incompatibility = ProtocolVersion.incompatibility(headers.get(ProtocolVersion.HEADER));
    if (incompatibility != null) {
      return Refusals.refuseAdmin(call,
          Status.FAILED_PRECONDITION.withDescription(incompatibility));
    }
    String presented = BearerTokens.from(headers);
    if (presented == null
        || !MessageDigest.isEqual(token, presented.getBytes(StandardCharsets.UTF_8))) {
      return Refusals.refuseAdmin(call, Status.UNAUTHENTICATED.withDescription(
          "admin token missing or wrong"));
    }
    return next.startCall(call, headers);
  }
}
