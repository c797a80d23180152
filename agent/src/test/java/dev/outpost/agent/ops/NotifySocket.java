package dev.outpost.agent.ops;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Plays systemd's notification socket: a real Unix datagram socket, bound with Netty's epoll
 * channel (not the raw socket the notifier sends with), queueing every datagram it receives.
 */
public final class NotifySocket implements AutoCloseable {
  private final EventLoopGroup group;
  private final Channel channel;
  private final BlockingQueue<String> received = new LinkedBlockingQueue<>();

  private NotifySocket(String address) throws InterruptedException {
    group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    channel = new Bootstrap().group(group).channel(EpollDomainDatagramChannel.class)
        .handler(new SimpleChannelInboundHandler<DomainDatagramPacket>() {
          @Override
          protected void channelRead0(ChannelHandlerContext ctx, DomainDatagramPacket packet) {
            received.add(packet.content().toString(StandardCharsets.UTF_8));
          }
        })
        .bind(new DomainSocketAddress(address)).sync().channel();
  }

  /** Binds {@code address}: a path, or an abstract name starting with NUL. */
  public static NotifySocket bind(String address) throws InterruptedException {
    return new NotifySocket(address);
  }

  /** The next datagram, or null when none arrives within {@code timeout}. */
  public String next(Duration timeout) throws InterruptedException {
    return received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The next datagram that starts with {@code prefix}, skipping others; null on timeout. */
  public String nextStartingWith(String prefix, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      String message = received.poll(end - System.nanoTime(), TimeUnit.NANOSECONDS);
      if (message != null && message.startsWith(prefix)) {
        return message;
      }
    }
    return null;
  }

  @Override
  public void close() throws InterruptedException {
    channel.close().sync();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
  }
}
