package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.Stage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline against real files. The control plane is replaced by an in-memory sink that
 * behaves like the stub's log store (stores the next expected sequence, ignores the rest): the
 * store's own behaviour is covered by the end-to-end tests; here the point is what the
 * pipeline sends.
 */
class LogPipelineTest {
  @TempDir
  Path tmp;

  /** Stores like the control plane: contiguous sequences only, duplicates ignored. */
  static final class StoringSink implements LogPipeline.Sink {
    final List<LogEntry> stored = new ArrayList<>();
    final AtomicInteger calls = new AtomicInteger();
    int failFirst;
    /** Every call after this many fails, as if the agent lost the control plane for good. */
    volatile int failAfter = Integer.MAX_VALUE;
    /** When set, the first call waits for it to open, then fails. */
    java.util.concurrent.CountDownLatch firstCallGate;

    @Override
    public synchronized long send(List<LogEntry> batch) throws Exception {
      int call = calls.incrementAndGet();
      if (call == 1 && firstCallGate != null) {
        firstCallGate.await();
        throw io.grpc.Status.UNAVAILABLE.withDescription("injected outage").asException();
      }
      if (call <= failFirst || call > failAfter) {
        throw io.grpc.Status.UNAVAILABLE.withDescription("injected outage").asException();
      }
      for (LogEntry e : batch) {
        if (e.getSeq() == stored.size() + 1L) {
          stored.add(e);
        }
      }
      return stored.size();
    }
  }

  private LogPipeline pipeline(StoringSink sink, Redactor redactor) throws Exception {
    return new LogPipeline("j", redactor, sink, Clock.systemUTC(),
        new LogJournal(tmp.resolve("spool")), LogJournal.Checkpoint.START);
  }

  @Test
  void aOneMebibyteLine_arrivesInDocumentedParts_thatReassembleByteForByte() throws Exception {
    StringBuilder big = new StringBuilder();
    ThreadLocalRandom r = ThreadLocalRandom.current();
    while (big.length() < (1 << 20)) {
      big.append((char) ('a' + r.nextInt(26))).append("é€");
    }
    String line = big.toString();
    Path out = Files.writeString(tmp.resolve("out"), "before\n" + line + "\nafter\n");
    Path err = Files.writeString(tmp.resolve("err"), "");
    StoringSink sink = new StoringSink();
    try (LogPipeline pipeline = pipeline(sink, new Redactor(List.of()))) {
      pipeline.follow(Stage.STAGE_APPLY, out, err, () -> true);
      assertThat(pipeline.awaitDelivered(Duration.ofSeconds(30))).isTrue();
    }
    List<LogEntry> parts = sink.stored.stream().filter(e -> e.getLineId() != 0).toList();
    assertThat(parts).hasSizeGreaterThan(1);
    assertThat(parts.get(parts.size() - 1).getLastPart()).isTrue();
    StringBuilder joined = new StringBuilder();
    parts.forEach(p -> joined.append(p.getRaw()));
    assertThat(joined.toString().getBytes(StandardCharsets.UTF_8))
        .isEqualTo(line.getBytes(StandardCharsets.UTF_8));
    assertThat(sink.stored.get(0).getRaw()).isEqualTo("before");
    assertThat(sink.stored.get(sink.stored.size() - 1).getRaw()).isEqualTo("after");
  }

  @Test
  void whileOutputFlows_whetherTheCommandEndedIsNotAsked() throws Exception {
    // 2 MiB: eight reads or more (a look reads up to 256 KiB). The command has ended from the
    // start, but that is asked only when a look finds nothing new: once before the first read,
    // once after the last.
    StringBuilder text = new StringBuilder();
    for (int i = 1; text.length() < (2 << 20); i++) {
      text.append("{\"@message\":\"line ").append(i).append("\",\"type\":\"log\"}\n");
    }
    long lines = text.chars().filter(c -> c == '\n').count();
    Path out = Files.writeString(tmp.resolve("out"), text);
    Path err = Files.writeString(tmp.resolve("err"), "");
    AtomicInteger asked = new AtomicInteger();
    StoringSink sink = new StoringSink();
    try (LogPipeline pipeline = pipeline(sink, new Redactor(List.of()))) {
      pipeline.follow(Stage.STAGE_APPLY, out, err, () -> asked.incrementAndGet() > 0);
      assertThat(pipeline.awaitDelivered(Duration.ofSeconds(30))).isTrue();
    }
    assertThat(sink.stored).hasSize((int) lines);
    assertThat(asked).hasValue(2);
  }

  /**
   * A checkpoint being forced (tens of milliseconds on a busy disk) does not hold up the job's
   * thread: its setup messages, written before Terraform starts, go on into the log meanwhile.
   * The test holds the journal's monitor, so the sender's force cannot finish until released.
   */
  @Test
  void whileACheckpointIsForced_theJobsMessagesAreNotHeldUp_andNothingIsSentBeforeIt()
      throws Exception {
    LogJournal journal = new LogJournal(tmp.resolve("spool"));
    StoringSink sink = new StoringSink();
    try (LogPipeline pipeline = new LogPipeline("slow-disk", new Redactor(List.of()), sink,
        Clock.systemUTC(), journal, LogJournal.Checkpoint.START)) {
      synchronized (journal) {
        pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_INFO, "first");
        Thread sender = Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().equals("logs-slow-disk")).findFirst().orElseThrow();
        await().atMost(Duration.ofSeconds(10)).until(() -> sender.getState()
            == Thread.State.BLOCKED && Arrays.stream(sender.getStackTrace())
                .anyMatch(f -> f.getMethodName().equals("record")));
        CompletableFuture<Void> second = CompletableFuture.runAsync(() -> pipeline
            .agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_INFO, "second"));
        second.get(10, TimeUnit.SECONDS);
        assertThat(pipeline.lastSeq()).isEqualTo(2);
        synchronized (sink) {
          assertThat(sink.calls).hasValue(0);
        }
      }
      assertThat(pipeline.awaitDelivered(Duration.ofSeconds(30))).isTrue();
    }
    assertThat(sink.stored).extracting(LogEntry::getMessage).containsExactly("first", "second");
  }

  @Test
  void afterFailedSends_everyLineIsStoredOnce_inOrder() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 1; i <= 5000; i++) {
      text.append("line ").append(i).append('\n');
    }
    Path out = Files.writeString(tmp.resolve("out"), text);
    Path err = Files.writeString(tmp.resolve("err"), "");
    StoringSink sink = new StoringSink();
    sink.failFirst = 3;
    try (LogPipeline pipeline = pipeline(sink, new Redactor(List.of()))) {
      pipeline.follow(Stage.STAGE_APPLY, out, err, () -> true);
      assertThat(pipeline.awaitDelivered(Duration.ofSeconds(30))).isTrue();
      assertThat(pipeline.lastSeq()).isEqualTo(5000);
    }
    assertThat(sink.stored).hasSize(5000);
    for (int i = 0; i < 5000; i++) {
      assertThat(sink.stored.get(i).getRaw()).isEqualTo("line " + (i + 1));
    }
  }

  @Test
  void aLineWrittenInTwoPieces_isOneEntry() throws Exception {
    Path out = Files.writeString(tmp.resolve("out"), "first half ");
    Path err = Files.writeString(tmp.resolve("err"), "");
    StoringSink sink = new StoringSink();
    AtomicInteger polls = new AtomicInteger();
    try (LogPipeline pipeline = pipeline(sink, new Redactor(List.of("secret-value")))) {
      pipeline.follow(Stage.STAGE_APPLY, out, err, () -> {
        // The writer finishes the line (with a secret split across the two writes) after the
        // reader has already seen the first half.
        if (polls.incrementAndGet() == 3) {
          try {
            Files.writeString(out, "second half secret-", java.nio.file.StandardOpenOption.APPEND);
            Files.writeString(out, "value\n", java.nio.file.StandardOpenOption.APPEND);
          } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
          }
        }
        return polls.get() > 5;
      });
      assertThat(pipeline.awaitDelivered(Duration.ofSeconds(10))).isTrue();
    }
    assertThat(sink.stored).extracting(LogEntry::getRaw)
        .containsExactly("first half second half " + Redactor.MASK);
  }

  /**
   * Lines go on as the bytes they were read as only when those are ASCII and redaction left
   * them alone: what arrives (as the control plane parses it off the wire) is the masked
   * line, never the read bytes with the secret in them, and a line that is not UTF-8 arrives
   * decoded, with replacement characters, as a valid string. A secret that only a JSON escape
   * hid from the raw line is masked in the decoded message; a line without escapes (whose
   * message, type, address and action are taken from its own bytes) arrives with all four.
   */
  @Test
  void rawLines_onTheWire_areRedactedAndValidUtf8_whateverTheBytesRead() throws Exception {
    String json = "{\"@level\":\"info\",\"@message\":\"token secret-value here\","
        + "\"type\":\"log\"}";
    String clean = "{\"@level\":\"warn\",\"@message\":\"a.b: Creating...\",\"hook\":{"
        + "\"resource\":{\"addr\":\"a.b\",\"module\":\"\"},\"action\":\"create\"},"
        + "\"type\":\"apply_start\"}";
    byte[] bad = {'b', 'a', 'd', ' ', (byte) 0xff, (byte) 0xc3, ' ', 'e', 'n', 'd'};
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    bytes.writeBytes((json + "\n").getBytes(StandardCharsets.UTF_8));
    bytes.writeBytes(bad);
    // The last line has no newline: it is read once the command has ended.
    bytes.writeBytes(("\nété ☃ secret-value\n{\"@message\":\"plain é\",\"type\":\"log\"}\n"
        + "{\"@message\":\"ascii \\u00e9\",\"type\":\"log\"}\n"
        + "{\"@message\":\"hidden secret\\u002dvalue\",\"type\":\"log\"}\n" + clean
        + "\nlast secret-value")
        .getBytes(StandardCharsets.UTF_8));
    Path out = Files.write(tmp.resolve("out"), bytes.toByteArray());
    Path err = Files.writeString(tmp.resolve("err"), "");
    StoringSink sink = new StoringSink();
    try (LogPipeline pipeline = pipeline(sink, new Redactor(List.of("secret-value")))) {
      pipeline.follow(Stage.STAGE_APPLY, out, err, () -> true);
      assertThat(pipeline.awaitDelivered(Duration.ofSeconds(10))).isTrue();
    }
    List<LogEntry> wire = new ArrayList<>();
    for (LogEntry e : sink.stored) {
      byte[] serialized = e.toByteArray();
      assertThat(new String(serialized, StandardCharsets.ISO_8859_1))
          .doesNotContain("secret-value");
      wire.add(LogEntry.parseFrom(serialized));
    }
    assertThat(wire).extracting(LogEntry::getRaw).containsExactly(
        json.replace("secret-value", Redactor.MASK), "bad \ufffd\ufffd end",
        "été ☃ " + Redactor.MASK, "{\"@message\":\"plain é\",\"type\":\"log\"}",
        "{\"@message\":\"ascii \\u00e9\",\"type\":\"log\"}",
        "{\"@message\":\"hidden secret\\u002dvalue\",\"type\":\"log\"}", clean,
        "last " + Redactor.MASK);
    assertThat(wire).extracting(LogEntry::getMessage).containsExactly(
        "token " + Redactor.MASK + " here", "bad \ufffd\ufffd end", "été ☃ " + Redactor.MASK,
        "plain é", "ascii é", "hidden " + Redactor.MASK, "a.b: Creating...",
        "last " + Redactor.MASK);
    LogEntry created = wire.get(wire.size() - 2);
    assertThat(created.getType()).isEqualTo("apply_start");
    assertThat(created.getResourceAddress()).isEqualTo("a.b");
    assertThat(created.getAction()).isEqualTo("create");
    assertThat(created.getLevel()).isEqualTo(LogLevel.LOG_LEVEL_WARN);
  }

  /**
   * An agent process that dies mid-log, then a new one that resumes from the journal at what
   * the control plane stored: every line arrives once, in order, also when the cut falls
   * inside a long line's parts, and agent messages written by the first process are not lost.
   */
  @Test
  void aRestartedPipeline_resumesAtTheAcknowledgedCheckpoint_withNothingLostOrDoubled()
      throws Exception {
    StringBuilder big = new StringBuilder();
    while (big.length() < (1 << 20)) {
      big.append("0123456789abcdef");
    }
    List<String> expected = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    for (int i = 1; i <= 3000; i++) {
      String line = i == 10 ? big.toString() : "line " + i;
      text.append(line).append('\n');
      expected.add(line);
    }
    Path out = Files.writeString(tmp.resolve("03-apply.stdout"), text);
    Path err = Files.writeString(tmp.resolve("03-apply.stderr"), "");
    StoringSink sink = new StoringSink();
    // The first call fails once everything is queued; its retry takes a full batch (1 MiB,
    // so it ends inside the long line) and is stored; nothing after that.
    sink.firstCallGate = new java.util.concurrent.CountDownLatch(1);
    sink.failAfter = 2;
    try (LogPipeline first = pipeline(sink, new Redactor(List.of()))) {
      first.agentMessage(Stage.STAGE_SETUP, dev.outpost.proto.v1.LogLevel.LOG_LEVEL_INFO,
          "before apply");
      first.follow(Stage.STAGE_APPLY, out, err, () -> true);
      first.agentMessage(Stage.STAGE_APPLY, dev.outpost.proto.v1.LogLevel.LOG_LEVEL_INFO,
          "after apply");
      sink.firstCallGate.countDown();
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
          .until(() -> sink.calls.get() > 2);
    }
    long acked = sink.stored.size();
    assertThat(acked).isGreaterThan(1).isLessThan(3000);
    assertThat(sink.stored.get((int) acked - 1).getLastPart())
        .as("the first batch ends inside the long line").isFalse();

    sink.failAfter = Integer.MAX_VALUE;
    LogJournal journal = new LogJournal(tmp.resolve("spool"));
    LogJournal.Checkpoint at = journal.resumeAt(acked);
    assertThat(at.lastSeq()).isEqualTo(acked);
    try (LogPipeline second = new LogPipeline("j", new Redactor(List.of()), sink,
        Clock.systemUTC(), journal, at)) {
      second.follow(Stage.STAGE_APPLY, out, err, () -> true);
      second.readAgentMessages();
      assertThat(second.awaitDelivered(Duration.ofSeconds(30))).isTrue();
    }
    List<String> lines = new ArrayList<>();
    StringBuilder joined = null;
    for (LogEntry e : sink.stored) {
      if (e.getLineId() == 0) {
        lines.add(e.getRaw());
      } else {
        joined = e.getPart() == 0 ? new StringBuilder() : joined;
        joined.append(e.getRaw());
        if (e.getLastPart()) {
          lines.add(joined.toString());
        }
      }
    }
    List<String> all = new ArrayList<>();
    all.add("before apply");
    all.addAll(expected);
    all.add("after apply");
    assertThat(lines).hasSize(all.size());
    assertThat(lines).isEqualTo(all);
    for (int i = 0; i < sink.stored.size(); i++) {
      assertThat(sink.stored.get(i).getSeq()).isEqualTo(i + 1L);
    }
  }
}
