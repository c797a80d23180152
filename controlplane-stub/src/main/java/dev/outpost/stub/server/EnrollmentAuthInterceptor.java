package dev.outpost.stub.server;

import dev.outpost.proto.ProtocolVersion;
import dev.outpost.stub.store.KeyRecord;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusException;
import java.net.SocketAddress;

/**
 * Authenticates Enrollment calls by the org key alone: the agent has no client certificate yet
 * (it may present an old one when renewing; it is neither needed nor trusted for this).
 */
final class EnrollmentAuthInterceptor implements ServerInterceptor {
  /** The key an enrollment call proved, and where the call came from (for refusals). */
  record Caller(KeyRecord key, SocketAddress remote) {
    static final Context.Key<Caller> KEY = Context.key("outpost-enrollment-caller");
  }

  private final OrgKeys keys;
  private final Refusals refusals;

  EnrollmentAuthInterceptor(OrgKeys keys, Refusals refusals) {
    this.keys = keys;
    this.refusals = refusals;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String keyId = OrgKeys.presentedId(headers);
    String incompatibility = ProtocolVersion.incompatibility(headers.get(ProtocolVersion.HEADER));
    if (incompatibility != null) {
      return refusals.refuse(call, Status.FAILED_PRECONDITION.withDescription(incompatibility),
          "", keyId);
    }
    KeyRecord key;
    try {
      key = keys.authenticate(headers);
    } catch (StatusException e) {
      return refusals.refuse(call, e.getStatus(), "", keyId);
    }
    Caller caller = new Caller(key, call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    return Contexts.interceptCall(Context.current().withValue(Caller.KEY, caller), call, headers,
        next);
  }
}
