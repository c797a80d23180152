package dev.outpost.stub.server;

import dev.outpost.proto.v1.Hello;
import dev.outpost.proto.v1.ServerMessage;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.UUID;

/** One connected agent's session: its identity, capacity, and the stream to push messages on. */
final class AgentSession {
  final String id = UUID.randomUUID().toString();
  final Principal principal;
  /** "org/name", computed once: dispatch looks it up for every session, for every queued job. */
  private final String agentId;
  final Map<String, String> tags;
  final int maxJobs;
  final Hello hello;
  private final StreamObserver<ServerMessage> stream;
  int freeSlots;
  /** Written under this object's lock; read without it by dispatch, for every session. */
  private volatile boolean closed;

  AgentSession(Principal principal, Hello hello, StreamObserver<ServerMessage> stream) {
    this.principal = principal;
    this.agentId = ControlPlane.agentId(principal);
    this.hello = hello;
    this.tags = Map.copyOf(hello.getTagsMap());
    this.maxJobs = Math.max(1, hello.getMaxJobs());
    this.freeSlots = Math.min(maxJobs, hello.getFreeSlots());
    this.stream = stream;
  }

  String agentId() {
    return agentId;
  }

  /** Sends a message; false when the stream is already closed. gRPC streams are not thread-safe. */
  synchronized boolean send(ServerMessage message) {
    if (closed) {
      return false;
    }
    try {
      stream.onNext(message);
      return true;
    } catch (RuntimeException e) {
      closed = true;
      return false;
    }
  }

  synchronized void end(Status status) {
    if (!closed) {
      closed = true;
      try {
        stream.onError(status.asRuntimeException());
      } catch (RuntimeException ignored) {
        // The transport is already gone; nothing left to tell the agent.
      }
    }
  }

  synchronized void markClosed() {
    closed = true;
  }

  boolean isOpen() {
    return !closed;
  }
}
