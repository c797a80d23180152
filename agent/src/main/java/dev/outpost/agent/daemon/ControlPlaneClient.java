package dev.outpost.agent.daemon;

import dev.outpost.proto.v1.ProvisionerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The channel to the control plane and stubs that carry the agent's credentials. */
public final class ControlPlaneClient implements AutoCloseable {
  /** Deadline of ordinary unary calls; payload streams get {@link #TRANSFER_DEADLINE}. */
  static final Duration CALL_DEADLINE = Duration.ofSeconds(30);
  static final Duration TRANSFER_DEADLINE = Duration.ofMinutes(30);

  private final ManagedChannel channel;
  private final Credentials credentials;

  public ControlPlaneClient(String target, Credentials credentials) {
    this.credentials = credentials;
    this.channel = NettyChannelBuilder.forTarget(target, credentials.channelCredentials())
        .keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveTimeout(10, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true)
        .maxInboundMessageSize(8 << 20)
        .build();
  }

  io.grpc.Channel channel() {
    return channel;
  }

  /**
   * Drops the current connections so that the next call makes a new TLS handshake, presenting
   * the identity installed since; calls in flight finish on the old connection.
   */
  void reconnect() {
    channel.enterIdle();
  }

  /** For the session stream, which has no deadline: it lives as long as the connection. */
  ProvisionerGrpc.ProvisionerStub session() {
    return ProvisionerGrpc.newStub(channel).withCallCredentials(credentials.callCredentials());
  }

  ProvisionerGrpc.ProvisionerBlockingStub blocking(Duration deadline) {
    return ProvisionerGrpc.newBlockingStub(channel)
        .withCallCredentials(credentials.callCredentials())
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  ProvisionerGrpc.ProvisionerStub async(Duration deadline) {
    return ProvisionerGrpc.newStub(channel).withCallCredentials(credentials.callCredentials())
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      channel.shutdownNow();
    }
  }
}
