package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.Stage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
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

    @Override
    public synchronized long send(List<LogEntry> batch) throws Exception {
      if (calls.incrementAndGet() <= failFirst) {
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
    try (LogPipeline pipeline = new LogPipeline("j", new Redactor(List.of()), sink,
        Clock.systemUTC())) {
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
  void afterFailedSends_everyLineIsStoredOnce_inOrder() throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 1; i <= 5000; i++) {
      text.append("line ").append(i).append('\n');
    }
    Path out = Files.writeString(tmp.resolve("out"), text);
    Path err = Files.writeString(tmp.resolve("err"), "");
    StoringSink sink = new StoringSink();
    sink.failFirst = 3;
    try (LogPipeline pipeline = new LogPipeline("j", new Redactor(List.of()), sink,
        Clock.systemUTC())) {
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
    try (LogPipeline pipeline = new LogPipeline("j", new Redactor(List.of("secret-value")), sink,
        Clock.systemUTC())) {
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
}
