package dev.outpost.agent.daemon;

import dev.outpost.proto.v1.ProvisionerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The channel to the control plane and stubs that carry the agent's credentials.
 *
 * <p>The channel's threads (Netty's event loops, the executor gRPC runs callbacks and name
 * lookups on) are the agent's own, made by a {@link ThreadStarter}: the log senders call from
 * the idle scheduling class, and a thread gRPC started lazily for one of their calls would
 * otherwise inherit that class. They are the same kinds and numbers of threads gRPC would make
 * by itself; the channels of a {@link #reconnect} share them.
 */
public final class ControlPlaneClient implements AutoCloseable {
  /** Deadline of ordinary unary calls; payload streams get {@link #TRANSFER_DEADLINE}. */
  static final Duration CALL_DEADLINE = Duration.ofSeconds(30);
  static final Duration TRANSFER_DEADLINE = Duration.ofMinutes(30);

  private final String target;
  private final Credentials credentials;
  private final ThreadStarter starter = new ThreadStarter();
  private final boolean epoll = Epoll.isAvailable();
  private final EventLoopGroup eventLoops = new MultiThreadIoEventLoopGroup(0,
      starter.factory("grpc-netty"), epoll ? EpollIoHandler.newFactory()
          : NioIoHandler.newFactory());
  /** Like gRPC's own default executor: threads made as needed, kept a minute when unused. */
  private final ExecutorService executor = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60,
      TimeUnit.SECONDS, new SynchronousQueue<>(), starter.factory("grpc-executor"));
  private volatile ManagedChannel channel;

  public ControlPlaneClient(String target, Credentials credentials) {
    this.target = target;
    this.credentials = credentials;
    this.channel = newChannel();
  }

  private ManagedChannel newChannel() {
    // A connection that went silent (a stalled proxy, a peer gone without a FIN) is noticed
    // within 15 s; gRPC does not ping more often than every 10 s, and the stub permits that.
    return NettyChannelBuilder.forTarget(target, credentials.channelCredentials())
        .eventLoopGroup(eventLoops)
        .channelType(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
        .executor(executor)
        .offloadExecutor(executor)
        .keepAliveTime(10, TimeUnit.SECONDS)
        .keepAliveTimeout(5, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true)
        .maxInboundMessageSize(8 << 20)
        .build();
  }

  /**
   * Starts connecting now (name resolution, TCP, the TLS handshake) without waiting, so that
   * the first call finds the connection made. A failure here is what the first call reports.
   */
  public void connectAhead() {
    channel.getState(true);
  }

  io.grpc.Channel channel() {
    return channel;
  }

  /**
   * Replaces the channel so that the next call makes a full TLS handshake presenting the
   * identity installed since. A new channel, not just new connections: a TLS 1.3 client resumes
   * its cached session, which would carry the old identity (or none). Calls in flight finish
   * on the old channel, which then closes.
   */
  synchronized void reconnect() {
    ManagedChannel old = channel;
    channel = newChannel();
    old.shutdown();
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

  /**
   * An empty heartbeat: proves the control plane is reachable and accepts the org key and
   * client certificate, without opening a session (no job can be assigned by it).
   */
  public void ping(Duration deadline) {
    blocking(deadline).heartbeat(dev.outpost.proto.v1.HeartbeatRequest.getDefaultInstance());
  }

  @Override
  public void close() {
    ManagedChannel channel = this.channel;
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      channel.shutdownNow();
    }
    // The channel owns none of these threads: they end here.
    eventLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    executor.shutdown();
    starter.close();
  }
}
