package dev.outpost.agent.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Plays systemd: a real Unix datagram socket, bound with Netty's epoll channel (not the raw
 * socket the notifier uses), receives what the notifier sends.
 */
class SystemdNotifierTest {
  private static final long SELF = ProcessHandle.current().pid();
  private static final long PARENT =
      ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);

  @TempDir Path dir;

  private final List<NotifySocket> receivers = new ArrayList<>();

  @AfterEach
  void stopReceivers() throws InterruptedException {
    for (NotifySocket socket : receivers) {
      socket.close();
    }
  }

  @Test
  void pathSocket_receivesEachMessageExactly() throws Exception {
    Path socket = dir.resolve("notify.sock");
    NotifySocket received = bind(socket.toString());

    try (SystemdNotifier notifier =
        SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString()))) {
      assertThat(notifier.enabled()).isTrue();
      notifier.ready("connected to cp.example:443, 2 slots");
      notifier.status("running 1 job");
      notifier.stopping("draining 1 job\nfor at most 5 min\r\n");
      notifier.watchdog();
    }

    assertThat(next(received)).isEqualTo("READY=1\nSTATUS=connected to cp.example:443, 2 slots");
    assertThat(next(received)).isEqualTo("STATUS=running 1 job");
    assertThat(next(received)).isEqualTo("STOPPING=1\nSTATUS=draining 1 job for at most 5 min");
    assertThat(next(received)).isEqualTo("WATCHDOG=1");
  }

  @Test
  void abstractSocket_atNameMeansLeadingNul() throws Exception {
    String name = "outpost-notify-test-" + UUID.randomUUID();
    NotifySocket received = bind("\0" + name);

    try (SystemdNotifier notifier =
        SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", "@" + name))) {
      notifier.ready("up");
    }

    assertThat(next(received)).isEqualTo("READY=1\nSTATUS=up");
  }

  @Test
  void withoutNotifySocket_disabledAndSendsNothing() throws Exception {
    Path socket = dir.resolve("notify.sock");
    NotifySocket received = bind(socket.toString());

    for (Map<String, String> env : List.of(Map.<String, String>of(),
        Map.of("NOTIFY_SOCKET", ""), Map.of("WATCHDOG_USEC", "20000000"))) {
      try (SystemdNotifier quiet = SystemdNotifier.fromEnvironment(env)) {
        assertThat(quiet.enabled()).as("%s", env).isFalse();
        assertThat(quiet.watchdogInterval()).as("%s", env).isEmpty();
        quiet.ready("up");
        quiet.status("x");
        quiet.stopping("y");
        quiet.watchdog();
      }
    }
    // Sends are synchronous: anything the quiet notifiers had sent would be queued first.
    try (SystemdNotifier marker =
        SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString()))) {
      marker.status("marker");
    }
    assertThat(next(received)).isEqualTo("STATUS=marker");
    assertThat(received.next(Duration.ZERO)).as("nothing after the marker").isNull();
  }

  @Test
  void watchdogInterval_isHalfOfWatchdogUsec_forThisProcessOrItsParent() {
    String socket = dir.resolve("notify.sock").toString();
    assertThat(interval(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "20000000")))
        .contains(Duration.ofSeconds(10));
    assertThat(interval(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "20000000",
        "WATCHDOG_PID", Long.toString(SELF)))).contains(Duration.ofSeconds(10));
    // Under the unit the launcher is the main process and the JVM its child.
    assertThat(SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket,
        "WATCHDOG_USEC", "60000000", "WATCHDOG_PID", "4242"), 4243, 4242).watchdogInterval())
        .contains(Duration.ofSeconds(30));
    assertThat(interval(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "1500")))
        .contains(Duration.ofNanos(750_000));
  }

  @Test
  void watchdogInterval_emptyForAnotherProcessOrGarbage() {
    String socket = dir.resolve("notify.sock").toString();
    long other = SELF + PARENT + 1;
    assertThat(interval(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "20000000",
        "WATCHDOG_PID", Long.toString(other)))).isEmpty();
    assertThat(interval(Map.of("NOTIFY_SOCKET", socket))).isEmpty();
    assertThat(interval(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "0"))).isEmpty();
    assertThat(interval(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "soon"))).isEmpty();
    assertThat(interval(Map.of("NOTIFY_SOCKET", socket, "WATCHDOG_USEC", "20000000",
        "WATCHDOG_PID", "me"))).isEmpty();
  }

  @Test
  void missingSocket_callsDoNotThrow_andWarnOnce() {
    ch.qos.logback.classic.Logger logger =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(SystemdNotifier.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    try (SystemdNotifier notifier = SystemdNotifier.fromEnvironment(
        Map.of("NOTIFY_SOCKET", dir.resolve("nobody-listens.sock").toString()))) {
      assertThat(notifier.enabled()).isTrue();
      assertThatCode(() -> {
        notifier.ready("up");
        notifier.status("s");
        notifier.watchdog();
        notifier.stopping("bye");
      }).doesNotThrowAnyException();
    } finally {
      logger.detachAppender(appender);
    }
    List<ILoggingEvent> warnings = appender.list.stream()
        .filter(e -> e.getLevel() == Level.WARN).toList();
    assertThat(warnings).hasSize(1);
    assertThat(warnings.get(0).getFormattedMessage())
        .contains("nobody-listens.sock", "READY=1", "No such file or directory");
  }

  @Test
  void afterClose_andForUnsupportedAddresses_nothingThrows() throws Exception {
    Path socket = dir.resolve("notify.sock");
    NotifySocket received = bind(socket.toString());
    SystemdNotifier notifier =
        SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString()));
    notifier.close();
    notifier.ready("late");
    notifier.close();

    try (SystemdNotifier vsock =
        SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", "vsock:2:1234"))) {
      assertThat(vsock.enabled()).isFalse();
      vsock.ready("up");
    }
    try (SystemdNotifier tooLong = SystemdNotifier.fromEnvironment(
        Map.of("NOTIFY_SOCKET", "/" + "x".repeat(200)))) {
      assertThat(tooLong.enabled()).isFalse();
    }
    try (SystemdNotifier marker =
        SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString()))) {
      marker.status("marker");
    }
    assertThat(next(received)).isEqualTo("STATUS=marker");
  }

  private static Optional<Duration> interval(Map<String, String> env) {
    try (SystemdNotifier n = SystemdNotifier.fromEnvironment(env)) {
      return n.watchdogInterval();
    }
  }

  private NotifySocket bind(String address) throws InterruptedException {
    NotifySocket socket = NotifySocket.bind(address);
    receivers.add(socket);
    return socket;
  }

  private static String next(NotifySocket received) throws InterruptedException {
    String message = received.next(Duration.ofSeconds(10));
    assertThat(message).as("a datagram within 10 s").isNotNull();
    return message;
  }
}
