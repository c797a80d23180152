package dev.outpost.stub.server;

import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.v1.AdminGrpc;
import io.grpc.CallCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/** A connection to a stub's Admin listener, authenticated with the admin token. */
public final class AdminClient implements AutoCloseable {
  private final ManagedChannel channel;
  private final String token;

  public AdminClient(String target, String token) {
    this.channel = Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
        .maxInboundMessageSize(8 << 20).build();
    this.token = token;
  }

  /** A blocking stub; each call gets the given deadline. */
  public AdminGrpc.AdminBlockingStub blocking(long deadlineSeconds) {
    return AdminGrpc.newBlockingStub(channel).withCallCredentials(credentials())
        .withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS);
  }

  /** A blocking stub without a deadline, for streams that follow a running job. */
  public AdminGrpc.AdminBlockingStub following() {
    return AdminGrpc.newBlockingStub(channel).withCallCredentials(credentials());
  }

  public AdminGrpc.AdminStub async(long deadlineSeconds) {
    return AdminGrpc.newStub(channel).withCallCredentials(credentials())
        .withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS);
  }

  private CallCredentials credentials() {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(ProtocolVersion.AUTHORIZATION, "Bearer " + token);
        headers.put(ProtocolVersion.HEADER, ProtocolVersion.current());
        applier.apply(headers);
      }
    };
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
