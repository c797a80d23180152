package dev.outpost.agent.ops;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Socket;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.PortUnreachableException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * sd_notify(3) without a helper process: datagrams to the Unix socket systemd names in
 * {@code NOTIFY_SOCKET} (a path, or {@code @name} in the abstract namespace). The JDK's channels
 * have no Unix datagram socket, so this uses Netty's native socket directly: one unbound
 * non-blocking socket per notifier, no event loop.
 *
 * <p>Under the packaged unit the JVM is a child of the launcher, which is the unit's main
 * process; {@code NotifyAccess=all} lets the JVM's messages count. A message that cannot be sent
 * never reaches the caller: the first failure is logged at WARN with the reason, later ones at
 * DEBUG, so a flapping socket cannot flood the log every watchdog period.
 */
public final class SystemdNotifier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SystemdNotifier.class);

  /** systemd's notify socket has a large queue; EAGAIN is retried briefly rather than lost. */
  private static final Duration FULL_QUEUE_PATIENCE = Duration.ofMillis(500);

  private final String address;
  private final byte[] socketAddress;
  private final Optional<Duration> watchdogInterval;
  private Socket socket;
  private boolean closed;
  private boolean warned;

  private SystemdNotifier(String address, byte[] socketAddress,
      Optional<Duration> watchdogInterval) {
    this.address = address;
    this.socketAddress = socketAddress;
    this.watchdogInterval = watchdogInterval;
  }

  /** A notifier for this process; a no-op one when {@code NOTIFY_SOCKET} is unset or empty. */
  public static SystemdNotifier fromEnvironment(Map<String, String> env) {
    ProcessHandle self = ProcessHandle.current();
    return fromEnvironment(env, self.pid(), self.parent().map(ProcessHandle::pid).orElse(-1L));
  }

  static SystemdNotifier fromEnvironment(Map<String, String> env, long pid, long parentPid) {
    String address = env.getOrDefault("NOTIFY_SOCKET", "");
    Optional<Duration> watchdog = watchdogInterval(env, pid, parentPid);
    if (address.isEmpty()) {
      return new SystemdNotifier("", null, Optional.empty());
    }
    byte[] sockaddr = socketAddress(address);
    if (sockaddr == null) {
      log.warn("NOTIFY_SOCKET={} is not a Unix socket path or @name of at most {} bytes "
          + "(vsock: is not supported); systemd will not hear from the agent (readiness, status, "
          + "watchdog)", address, Socket.UDS_SUN_PATH_SIZE);
      return new SystemdNotifier(address, null, Optional.empty());
    }
    Optional<String> unavailable = nativeTransportUnavailable();
    if (unavailable.isPresent()) {
      log.warn("NOTIFY_SOCKET is set but Netty's native epoll transport is unavailable ({}); "
          + "systemd will not hear from the agent", unavailable.get());
      return new SystemdNotifier(address, null, Optional.empty());
    }
    return new SystemdNotifier(address, sockaddr, watchdog);
  }

  /** Loads the native library that also implements {@link Socket}'s methods. */
  private static Optional<String> nativeTransportUnavailable() {
    try {
      return Epoll.isAvailable() ? Optional.empty()
          : Optional.of(String.valueOf(Epoll.unavailabilityCause()));
    } catch (LinkageError | RuntimeException e) {
      return Optional.of(e.toString());
    }
  }

  /**
   * sun_path bytes: a path as is; {@code @name} with the '@' turned into the leading NUL of
   * the abstract namespace (the address length then covers exactly the name, no terminator).
   */
  private static byte[] socketAddress(String address) {
    byte[] bytes = address.getBytes(StandardCharsets.UTF_8);
    if (address.startsWith("@")) {
      bytes[0] = 0;
    } else if (!address.startsWith("/")) {
      return null; // vsock:… (systemd 254+) and anything else: not supported here
    }
    return bytes.length <= Socket.UDS_SUN_PATH_SIZE ? bytes : null;
  }

  /**
   * Half of {@code WATCHDOG_USEC}, as sd_watchdog_enabled(3) advises, when the watchdog is
   * meant for this process: {@code WATCHDOG_PID} absent, this process, or its parent (the
   * launcher, the unit's main process).
   */
  private static Optional<Duration> watchdogInterval(Map<String, String> env, long pid,
      long parentPid) {
    String usec = env.getOrDefault("WATCHDOG_USEC", "");
    String target = env.getOrDefault("WATCHDOG_PID", "");
    try {
      long micros = Long.parseLong(usec.trim());
      if (micros <= 0) {
        return Optional.empty();
      }
      if (!target.isBlank()) {
        long watched = Long.parseLong(target.trim());
        if (watched != pid && watched != parentPid) {
          return Optional.empty();
        }
      }
      return Optional.of(Duration.of(micros, ChronoUnit.MICROS).dividedBy(2));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** True when messages go to a socket; false for the no-op notifier. */
  public boolean enabled() {
    return socketAddress != null;
  }

  /** The agent is ready (after its local preflight). */
  public void ready(String status) {
    send("READY=1\n" + statusLine(status));
  }

  public void status(String status) {
    send(statusLine(status));
  }

  /** The agent began to stop (draining). */
  public void stopping(String status) {
    send("STOPPING=1\n" + statusLine(status));
  }

  /** Keep-alive; due every {@link #watchdogInterval()}. */
  public void watchdog() {
    send("WATCHDOG=1");
  }

  /** How often to call {@link #watchdog()}; empty when systemd watches no process of ours. */
  public Optional<Duration> watchdogInterval() {
    return watchdogInterval;
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (socket != null) {
      try {
        socket.close();
      } catch (IOException e) {
        log.debug("closing the systemd notify socket: {}", e.toString());
      }
      socket = null;
    }
  }

  /** One line, since every message is newline-separated KEY=VALUE. */
  private static String statusLine(String status) {
    String text = status == null ? "" : status.replaceAll("[\r\n]+", " ").strip();
    return "STATUS=" + text;
  }

  private synchronized void send(String message) {
    if (socketAddress == null || closed) {
      return;
    }
    try {
      if (socket == null) {
        socket = Socket.newSocketDomainDgram();
      }
      byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
      ByteBuffer buffer = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
      long deadline = System.nanoTime() + FULL_QUEUE_PATIENCE.toNanos();
      // 0 is EAGAIN on the non-blocking socket: the receiver's queue is full.
      while (socket.sendToDomainSocket(buffer, 0, bytes.length, socketAddress) == 0) {
        if (System.nanoTime() > deadline) {
          throw new IOException("the receive queue stayed full for " + FULL_QUEUE_PATIENCE);
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
      }
    } catch (IOException | RuntimeException e) {
      String first = message.lines().findFirst().orElse("");
      if (!warned) {
        warned = true;
        log.warn("cannot notify systemd at {} ({}): {}; further failures are logged at DEBUG",
            address, first, reason(e));
      } else {
        log.debug("cannot notify systemd at {} ({}): {}", address, first, reason(e));
      }
    }
  }

  /** Netty's native errors for the common cases carry no message; errno's text is clearer. */
  private static String reason(Exception e) {
    if (e.getMessage() != null && !e.getMessage().isBlank()) {
      return e.getMessage();
    }
    if (e instanceof FileNotFoundException) {
      return "No such file or directory";
    }
    if (e instanceof PortUnreachableException || e instanceof ConnectException) {
      return "Connection refused (nobody listens on the socket)";
    }
    return e.getClass().getName();
  }
}
