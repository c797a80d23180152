package dev.outpost.agent.logs;

import dev.outpost.agent.daemon.Backoff;
import dev.outpost.agent.daemon.Failure;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One job's log: reads Terraform's output files as they grow, redacts each line, numbers it
 * (per-job sequence from 1) and sends batches to the control plane from a sender thread,
 * keeping every entry until the control plane acknowledges its sequence. A failed send is
 * repeated with the same entries; the control plane ignores the ones it already has.
 */
public final class LogPipeline implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LogPipeline.class);
  /** Lines longer than this travel as several parts (see LogEntry.line_id). */
  static final int MAX_PART_CHARS = 64 * 1024;
  private static final int MAX_BATCH_ENTRIES = 1000;
  private static final int MAX_BATCH_BYTES = 1 << 20;
  private static final Duration POLL = Duration.ofMillis(10);

  /** Sends a batch; returns the highest contiguous sequence the control plane has stored. */
  public interface Sink {
    long send(List<LogEntry> batch) throws Exception;
  }

  private final String jobId;
  private final Redactor redactor;
  private final Sink sink;
  private final Clock clock;
  private final Deque<LogEntry> unacked = new ArrayDeque<>();
  private final Thread sender;
  private long nextSeq = 1;
  private long nextLineId = 1;
  private long acked;
  private volatile boolean closed;
  private volatile String deliveryProblem;
  private boolean refused;

  public LogPipeline(String jobId, Redactor redactor, Sink sink, Clock clock) {
    this.jobId = jobId;
    this.redactor = redactor;
    this.sink = sink;
    this.clock = clock;
    this.sender = new Thread(this::sendLoop, "logs-" + jobId);
    this.sender.setDaemon(true);
    this.sender.start();
  }

  /** A message from the agent itself about this job. */
  public void agentMessage(Stage stage, LogLevel level, String text) {
    add(stage, LogStream.LOG_STREAM_AGENT, text, level);
  }

  /**
   * Follows a process's output files until {@code finished} reports the process has ended and
   * everything it wrote has been read. A null {@code stdout} is not read (a secret payload).
   */
  public void follow(Stage stage, Path stdout, Path stderr, BooleanSupplier finished)
      throws IOException, InterruptedException {
    FileTail out = stdout == null ? null : new FileTail(stdout, 0);
    FileTail err = new FileTail(stderr, 0);
    while (true) {
      // Read "finished" before the files: whatever was written before the exit is then
      // guaranteed to be seen by the final pass.
      boolean done = finished.getAsBoolean();
      int n = (out == null ? 0
          : out.poll(done, line -> add(stage, LogStream.LOG_STREAM_STDOUT, line, null)))
          + err.poll(done, line -> add(stage, LogStream.LOG_STREAM_STDERR, line, null));
      if (done) {
        return;
      }
      if (n == 0) {
        Thread.sleep(POLL.toMillis());
      }
    }
  }

  private void add(Stage stage, LogStream stream, String rawLine, LogLevel level) {
    String line = redactor.redact(rawLine);
    List<LogEntry> parts = new ArrayList<>();
    if (line.length() <= MAX_PART_CHARS) {
      LogEntry.Builder e = LogLines.parse(stage, stream, line, clock.instant());
      // Decoding JSON can reveal a secret the escaped raw line hid from the first pass.
      e.setMessage(redactor.redact(e.getMessage()));
      if (level != null) {
        e.setLevel(level);
      }
      parts.add(e.build());
    } else {
      long lineId = nextLineId++;
      int part = 0;
      for (int at = 0; at < line.length(); part++) {
        int end = Math.min(line.length(), at + MAX_PART_CHARS);
        if (end < line.length() && Character.isHighSurrogate(line.charAt(end - 1))) {
          end--; // never split a character in two
        }
        String piece = line.substring(at, end);
        parts.add(LogEntry.newBuilder().setStage(stage).setStream(stream).setRaw(piece)
            .setMessage(piece).setLevel(LogLevel.LOG_LEVEL_INFO)
            .setTime(Times.timestamp(clock.instant())).setLineId(lineId).setPart(part)
            .setLastPart(end >= line.length()).build());
        at = end;
      }
    }
    synchronized (this) {
      for (LogEntry p : parts) {
        unacked.addLast(p.toBuilder().setSeq(nextSeq++).build());
      }
      notifyAll();
    }
  }

  /** The highest sequence produced so far. */
  public synchronized long lastSeq() {
    return nextSeq - 1;
  }

  public long redactedCount() {
    return redactor.count();
  }

  /**
   * Waits until every entry produced so far is acknowledged, or the control plane refused the
   * log for good (see {@link #deliveryProblem()}); false on timeout.
   */
  public synchronized boolean awaitDelivered(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (acked < nextSeq - 1) {
      if (refused) {
        return true;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      wait(Math.max(1, left / 1_000_000));
    }
    return true;
  }

  /** Why delivery is stuck, if it is (for the job's final report). */
  public String deliveryProblem() {
    return deliveryProblem;
  }

  private void sendLoop() {
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));
    while (!closed) {
      List<LogEntry> batch;
      synchronized (this) {
        while (unacked.isEmpty() && !closed) {
          try {
            wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (closed) {
          return;
        }
        batch = new ArrayList<>();
        int bytes = 0;
        for (LogEntry e : unacked) {
          if (batch.size() >= MAX_BATCH_ENTRIES || bytes >= MAX_BATCH_BYTES) {
            break;
          }
          batch.add(e);
          bytes += e.getSerializedSize();
        }
      }
      try {
        long ack = sink.send(batch);
        backoff.reset();
        deliveryProblem = null;
        synchronized (this) {
          acked = Math.max(acked, ack);
          while (!unacked.isEmpty() && unacked.peekFirst().getSeq() <= acked) {
            unacked.removeFirst();
          }
          notifyAll();
        }
      } catch (InterruptedException e) {
        return;
      } catch (Exception e) {
        Failure f = Failure.of(e);
        deliveryProblem = f.message();
        if (f.kind() == Failure.Kind.DENIED || f.kind() == Failure.Kind.REFUSED) {
          // The control plane will not take this job's log (lease gone, job unknown): waiting
          // would hold the slot forever. The result report says so.
          log.error("job {}: the control plane refuses this job's log: {}", jobId, f.message());
          synchronized (this) {
            refused = true;
            notifyAll();
          }
          return;
        }
        log.warn("job {}: sending log entries failed, will retry: {}", jobId, f.message());
        try {
          Thread.sleep(backoff.next().toMillis());
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    synchronized (this) {
      notifyAll();
    }
    sender.interrupt();
  }
}
