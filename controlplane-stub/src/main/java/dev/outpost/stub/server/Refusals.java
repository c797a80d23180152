package dev.outpost.stub.server;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.net.SocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every refused agent call is logged exactly once with its reason and recorded as an
 * "auth.refused" audit event, so an operator can tell a misconfigured agent from an attack
 * without raising log levels; the refusal touches nothing else, so other agents keep working.
 */
final class Refusals {
  private static final Logger log = LoggerFactory.getLogger(Refusals.class);

  private final ControlPlane plane;

  Refusals(ControlPlane plane) {
    this.plane = plane;
  }

  /** Ends the call with {@code status}; org and key id as far as they are known (or ""). */
  <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status, String org,
      String keyId) {
    record(call.getMethodDescriptor().getFullMethodName(),
        call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), status, org, keyId);
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }

  /** Logs and audits a refusal decided inside a service (the service ends the call itself). */
  void record(String method, SocketAddress remote, Status status, String org, String keyId) {
    log.warn("refused {} from {}: {} {}", method, remote, status.getCode(),
        status.getDescription());
    plane.auditRefusal(org, keyId, method + " from " + remote + ": " + status.getCode() + " "
        + status.getDescription());
  }

  /** For the Admin listener, whose refusals are not about agents: logged only. */
  static <Q, R> ServerCall.Listener<Q> refuseAdmin(ServerCall<Q, R> call, Status status) {
    log.warn("refused {} from {}: {} {}", call.getMethodDescriptor().getFullMethodName(),
        call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), status.getCode(),
        status.getDescription());
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
