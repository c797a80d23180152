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
import io.netty.util.concurrent.FastThreadLocalThread;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The channels to the control plane and stubs that carry the agent's credentials.
 *
 * <p>Job logs can go over a channel of their own ({@link #logs}), whose threads (its event
 * loop, which encrypts and writes what the log senders hand it, and its executor) start by
 * running the given hook: with {@code --log-priority idle} that moves them into the idle
 * scheduling class, with the readers and senders of the log. Every other call (the session,
 * heartbeats, a job's other calls) goes over the main channel, whose threads gRPC makes in the
 * normal class; no idle thread ever calls on it, so none of its threads, which gRPC starts
 * lazily from the calling thread, can inherit the idle class.
 */
public final class ControlPlaneClient implements AutoCloseable {
  /** Deadline of ordinary unary calls; payload streams get {@link #TRANSFER_DEADLINE}. */
  static final Duration CALL_DEADLINE = Duration.ofSeconds(30);
  static final Duration TRANSFER_DEADLINE = Duration.ofMinutes(30);

  private final String target;
  private final Credentials credentials;
  private final LogThreads logThreads;
  private volatile ManagedChannel channel;
  private volatile ManagedChannel logChannel;

  /** One channel for every call. */
  public ControlPlaneClient(String target, Credentials credentials) {
    this(target, credentials, null);
  }

  /**
   * With a channel of its own for job logs when {@code logThreadStart} is given: each of that
   * channel's threads runs it first.
   */
  public ControlPlaneClient(String target, Credentials credentials, Runnable logThreadStart) {
    this.target = target;
    this.credentials = credentials;
    this.logThreads = logThreadStart == null ? null : new LogThreads(logThreadStart);
    this.channel = newChannel();
    this.logChannel = newLogChannel();
  }

  private ManagedChannel newChannel() {
    return configure(NettyChannelBuilder.forTarget(target, credentials.channelCredentials()))
        // While connected, even between calls: the session stream lives on it.
        .keepAliveWithoutCalls(true)
        .build();
  }

  /**
   * The log channel: connected at the first batch, and between jobs left idle (gRPC closes the
   * connection after 30 minutes without calls); null when logs share the main channel.
   */
  private ManagedChannel newLogChannel() {
    if (logThreads == null) {
      return null;
    }
    return configure(NettyChannelBuilder.forTarget(target, credentials.channelCredentials()))
        .eventLoopGroup(logThreads.eventLoop)
        .channelType(logThreads.epoll ? EpollSocketChannel.class : NioSocketChannel.class)
        .executor(logThreads.executor)
        .offloadExecutor(logThreads.executor)
        .build();
  }

  private static NettyChannelBuilder configure(NettyChannelBuilder builder) {
    // A connection that went silent (a stalled proxy, a peer gone without a FIN) is noticed
    // within 15 s; gRPC does not ping more often than every 10 s, and the stub permits that.
    return builder.keepAliveTime(10, TimeUnit.SECONDS)
        .keepAliveTimeout(5, TimeUnit.SECONDS)
        .maxInboundMessageSize(8 << 20);
  }

  /**
   * The log channel's threads: one event loop (one connection) and an executor like gRPC's
   * own (threads made as needed, kept a minute when unused), each thread running the hook
   * first. They are Netty's {@link FastThreadLocalThread}s, as Netty's own are.
   */
  private static final class LogThreads {
    final boolean epoll = Epoll.isAvailable();
    final EventLoopGroup eventLoop;
    final ExecutorService executor;

    LogThreads(Runnable start) {
      eventLoop = new MultiThreadIoEventLoopGroup(1, factory("log-netty", start),
          epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
      executor = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
          new SynchronousQueue<>(), factory("log-grpc", start));
    }

    private static ThreadFactory factory(String prefix, Runnable start) {
      AtomicInteger count = new AtomicInteger();
      return task -> {
        Thread t = new FastThreadLocalThread(() -> {
          start.run();
          task.run();
        }, prefix + "-" + count.incrementAndGet());
        t.setDaemon(true);
        return t;
      };
    }

    void close() {
      eventLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      executor.shutdown();
    }
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
    ManagedChannel oldLogs = logChannel;
    channel = newChannel();
    logChannel = newLogChannel();
    old.shutdown();
    if (oldLogs != null) {
      oldLogs.shutdown();
    }
  }

  /** For the session stream, which has no deadline: it lives as long as the connection. */
  ProvisionerGrpc.ProvisionerStub session() {
    return ProvisionerGrpc.newStub(channel).withCallCredentials(credentials.callCredentials());
  }

  ProvisionerGrpc.ProvisionerBlockingStub blocking(Duration deadline) {
    return blocking(channel, deadline);
  }

  /** For job logs: on the log channel when there is one. */
  ProvisionerGrpc.ProvisionerBlockingStub logs(Duration deadline) {
    ManagedChannel logs = logChannel;
    return blocking(logs != null ? logs : channel, deadline);
  }

  private ProvisionerGrpc.ProvisionerBlockingStub blocking(ManagedChannel on,
      Duration deadline) {
    return ProvisionerGrpc.newBlockingStub(on)
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
    close(channel);
    if (logThreads != null) {
      close(logChannel);
      logThreads.close();
    }
  }

  private static void close(ManagedChannel channel) {
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
