package dev.outpost.agent.logs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.daemon.Backoff;
import dev.outpost.agent.daemon.Failure;
import dev.outpost.agent.ops.AgentMetrics;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One job's log: reads Terraform's output files and the agent's own message file as they grow,
 * redacts each line, numbers it (per-job sequence from 1) and sends batches to the control
 * plane from a sender thread, keeping every entry until the control plane acknowledges its
 * sequence. Before a batch goes out, its checkpoint is forced to the {@link LogJournal}; a
 * restarted agent starts a new pipeline at the checkpoint the control plane's acknowledgement
 * names and numbers exactly the lines the control plane does not have. A failed send is
 * repeated with the same entries; the control plane ignores the ones it already has.
 *
 * <p>Memory stays bounded however slow the control plane is: the reader stops taking lines
 * from the files while {@value #MAX_BUFFERED_BYTES} bytes wait for acknowledgement (the files
 * are the buffer).
 */
public final class LogPipeline implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LogPipeline.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Lines longer than this travel as several parts (see LogEntry.line_id). */
  static final int MAX_PART_CHARS = 64 * 1024;
  private static final int MAX_BATCH_ENTRIES = 5000;
  private static final int MAX_BATCH_BYTES = 1 << 20;
  /**
   * The journal is forced at most this often, unless {@link #SYNC_BYTES} wait to be sent: most
   * lines reach the control plane within about this long (bench/: p50 27 ms at 5,000 lines a
   * second), at some 40 journal syncs a second while a command writes.
   */
  static final Duration SYNC_INTERVAL = Duration.ofMillis(25);
  /**
   * A full batch ({@link #MAX_BATCH_BYTES}): on a busy log every checkpoint, journal sync and
   * AppendLogs call carries as much as a call may. At 256 KiB a 200,000-line apply made some
   * 400 of each; at this size the agent's sender and network threads, and the control plane,
   * spent about a third less CPU on that apply (bench/, CPU per thread, a few runs each).
   */
  static final int SYNC_BYTES = MAX_BATCH_BYTES;
  static final long MAX_BUFFERED_BYTES = 8L << 20;
  private static final long READ_CHUNK = 256 * 1024;
  /**
   * The longest pause between two looks at a command's output files and exit status: the end
   * of each command is seen within it. A look costs a few stat and read calls.
   */
  private static final Duration POLL = Duration.ofMillis(5);
  private static final String PARTS = "#parts";

  /** Sends a batch; returns the highest contiguous sequence the control plane has stored. */
  public interface Sink {
    long send(List<LogEntry> batch) throws Exception;
  }

  /**
   * An entry waiting for acknowledgement, with where its source file stands after it: the
   * offset past its line, or for a part that is not a line's last, the line's own offset and
   * the number of its parts numbered so far.
   */
  private record Pending(LogEntry entry, String source, long offset, int partsDone,
      long nextLineId) {}

  private final String jobId;
  private final Redactor redactor;
  private final Sink sink;
  private final Clock clock;
  private final LogJournal journal;
  private final Deque<Pending> unacked = new ArrayDeque<>();
  private final Map<String, FileTail> tails = new HashMap<>();
  /** Where each file stands after the last checkpoint written to the journal. */
  private final Map<String, Long> journaled;
  /** Where reading starts in each file: the checkpoint this pipeline began at. */
  private final Map<String, Long> start;
  /** Parts of a long line to skip, by source, when resuming in the middle of that line. */
  private final Map<String, Integer> skipParts = new HashMap<>();
  private final Object agentTailLock = new Object();
  private final Thread sender;
  private long nextSeq;
  private long nextLineId;
  private long journaledSeq;
  private long journaledLineId;
  private long acked;
  private long unackedBytes;
  /** Serialized bytes of the entries past the last checkpoint (not yet in a batch). */
  private long unsentBytes;
  private volatile long logLimit;
  private final java.util.concurrent.atomic.AtomicBoolean limitWarned =
      new java.util.concurrent.atomic.AtomicBoolean();
  /** Bytes of the lines this pipeline has read (after a restart: since then). */
  private final java.util.concurrent.atomic.AtomicLong lineBytes =
      new java.util.concurrent.atomic.AtomicLong();
  private long lastSync = System.nanoTime() - SYNC_INTERVAL.toNanos();
  private volatile boolean closed;
  /** Someone waits for everything to be delivered: checkpoints are not paced any more. */
  private boolean draining;
  private volatile String deliveryProblem;
  private boolean refused;

  /** A pipeline for a job whose log starts at {@code from} (START, or where a restart resumes). */
  public LogPipeline(String jobId, Redactor redactor, Sink sink, Clock clock, LogJournal journal,
      LogJournal.Checkpoint from) {
    this(jobId, redactor, sink, clock, journal, from, null);
  }

  /**
   * As above, with the sender in the scheduling class of {@code readers} (null: the class of the
   * calling thread).
   */
  public LogPipeline(String jobId, Redactor redactor, Sink sink, Clock clock, LogJournal journal,
      LogJournal.Checkpoint from, LogReaders readers) {
    this.jobId = jobId;
    this.redactor = redactor;
    this.sink = sink;
    this.clock = clock;
    this.journal = journal;
    this.nextSeq = from.nextSeq();
    this.nextLineId = from.nextLineId();
    this.journaledSeq = from.lastSeq();
    this.journaledLineId = from.nextLineId();
    this.acked = from.lastSeq();
    this.journaled = new TreeMap<>();
    this.start = from.positions();
    from.positions().forEach((key, value) -> {
      if (key.endsWith(PARTS)) {
        skipParts.put(key.substring(0, key.length() - PARTS.length()), value.intValue());
      } else {
        journaled.put(key, value);
      }
    });
    this.sender = new Thread(() -> {
      if (readers != null) {
        readers.enterForSending();
      }
      sendLoop();
    }, "logs-" + jobId);
    this.sender.setDaemon(true);
    this.sender.start();
  }

  /** A message from the agent itself about this job (written to the journal's message file). */
  public void agentMessage(Stage stage, LogLevel level, String text) {
    try {
      journal.appendAgentLine(encodeAgentLine(stage, level, text));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the job's agent messages to "
          + journal.agentLog() + ": " + e.getMessage(), e);
    }
    readAgentMessages();
  }

  /**
   * Like {@link #agentMessage}, unless the same message is already the last one written (by an
   * agent process that stopped before it could finish the job).
   */
  public void agentMessageOnce(Stage stage, LogLevel level, String text) throws IOException {
    if (journal.lastAgentLine().equals(encodeAgentLine(stage, level, text))) {
      readAgentMessages();
      return;
    }
    agentMessage(stage, level, text);
  }

  private static String encodeAgentLine(Stage stage, LogLevel level, String text) {
    return JSON.createObjectNode().put("stage", stage.name()).put("level", level.name())
        .put("text", text).toString();
  }

  /** Reads the agent messages written so far (an earlier agent process may have left some). */
  public void readAgentMessages() {
    synchronized (agentTailLock) {
      try {
        tail(LogJournal.AGENT_LOG, journal.agentLog()).poll(false, Long.MAX_VALUE,
            (bytes, from, to, ascii, start, end) -> addAgentLine(
                new String(bytes, from, to - from, StandardCharsets.UTF_8), start, end));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private void addAgentLine(String line, long start, long end) {
    Stage stage = Stage.STAGE_SETUP;
    LogLevel level = LogLevel.LOG_LEVEL_INFO;
    String text = line;
    try {
      JsonNode node = JSON.readTree(line);
      stage = Stage.valueOf(node.path("stage").asText(stage.name()));
      level = LogLevel.valueOf(node.path("level").asText(level.name()));
      text = node.path("text").asText();
    } catch (IOException | IllegalArgumentException e) {
      // not one of ours (a torn write): passed on as it is
    }
    add(stage, LogStream.LOG_STREAM_AGENT, text, null, 0, 0, level, LogJournal.AGENT_LOG, start,
        end);
  }

  private FileTail tail(String source, Path file) {
    synchronized (tails) {
      return tails.computeIfAbsent(source, k -> new FileTail(file, start.getOrDefault(k, 0L)));
    }
  }

  /**
   * Follows a process's output files until {@code finished} reports the process has ended and
   * everything it wrote has been read. A null {@code stdout} is not read (a secret payload).
   * Files already read in part (by an agent process before a restart) are read on from there.
   */
  public void follow(Stage stage, Path stdout, Path stderr, BooleanSupplier finished)
      throws IOException, InterruptedException {
    FileTail out = stdout == null ? null : tail(stdout.getFileName().toString(), stdout);
    FileTail err = tail(stderr.getFileName().toString(), stderr);
    String outKey = stdout == null ? null : stdout.getFileName().toString();
    String errKey = stderr.getFileName().toString();
    // Quick looks while output flows or the command may be about to end; one per POLL when quiet.
    dev.outpost.agent.daemon.Pace pace = new dev.outpost.agent.daemon.Pace(POLL);
    boolean quiet = true;
    while (true) {
      // Read "finished" before the files: whatever was written before the exit is then
      // guaranteed to be seen by the final pass. While output flows it is not asked (each
      // answer costs a few system calls): the process is seen to end on the first look that
      // finds nothing new.
      boolean done = quiet && finished.getAsBoolean();
      if (backedUp()) {
        Thread.sleep(POLL.toMillis());
        continue;
      }
      long before = lastSeq();
      boolean ended = (out == null || out.poll(done, READ_CHUNK,
          (bytes, from, to, ascii, start, end) -> addOutput(stage, LogStream.LOG_STREAM_STDOUT,
              bytes, from, to, ascii, outKey, start, end)))
          & err.poll(done, READ_CHUNK, (bytes, from, to, ascii, start, end) -> addOutput(stage,
              LogStream.LOG_STREAM_STDERR, bytes, from, to, ascii, errKey, start, end));
      if (done && ended) {
        return;
      }
      quiet = lastSeq() == before;
      if (quiet) {
        pace.pause();
      } else {
        pace.reset();
      }
    }
  }

  /** Too much waits for acknowledgement: the reader pauses (unless the log is refused). */
  private synchronized boolean backedUp() {
    return unackedBytes >= MAX_BUFFERED_BYTES && !refused;
  }

  /**
   * A line of a command's output. When its bytes are ASCII (so valid UTF-8; Terraform's -json
   * lines escape little else) and hold nothing to mask, they go on as they were read: no text
   * is made of them, no copy either (the reader's array is never written again), the JSON
   * reader reads the bytes and the entry's raw field needs no encoding. Any other line is
   * decoded, redacted and goes on as text.
   */
  private void addOutput(Stage stage, LogStream stream, byte[] bytes, int from, int to,
      boolean ascii, String source, long start, long end) {
    if (ascii && !redactor.occursInAscii(bytes, from, to)) {
      add(stage, stream, null, bytes, from, to, null, source, start, end);
    } else {
      add(stage, stream, new String(bytes, from, to - from, StandardCharsets.UTF_8), null, 0, 0,
          null, source, start, end);
    }
  }

  /**
   * One line into the log: redacted, parsed, numbered. It comes as text ({@code rawLine}) or,
   * when the caller found nothing in it to mask, as ASCII bytes ({@code ascii[from, to)},
   * never changed afterwards), the other being null.
   */
  private void add(Stage stage, LogStream stream, String rawLine, byte[] ascii, int from,
      int to, LogLevel level, String source, long start, long end) {
    int length = rawLine != null ? rawLine.length() : to - from;
    long total = lineBytes.addAndGet(length + 1L);
    long limit = logLimit;
    if (limit > 0 && total >= limit / 10 * 8 && limitWarned.compareAndSet(false, true)) {
      String warning = "the job's log has used " + (total >> 10) + " KiB of its limit of "
          + dev.outpost.agent.ops.ByteSize.format(limit)
          + " (--job-log-limit); at the limit the job is stopped";
      log.warn("job {}: {}", jobId, warning);
      agentMessage(stage, LogLevel.LOG_LEVEL_WARN, warning);
    }
    String line = rawLine != null ? redactor.redact(rawLine) : null;
    List<LogEntry.Builder> parts = new ArrayList<>();
    boolean split = (line != null ? line.length() : to - from) > MAX_PART_CHARS;
    if (!split) {
      // With the second redaction pass: decoding JSON can reveal a secret the escaped raw line
      // hid from the first.
      LogEntry.Builder e = LogLines.parse(stage, stream, line, ascii, from, to, clock.instant(),
          redactor);
      if (level != null) {
        e.setLevel(level);
      }
      parts.add(e);
    } else {
      if (line == null) {
        line = new String(ascii, from, to - from, StandardCharsets.US_ASCII);
      }
      for (int at = 0; at < line.length(); ) {
        int stop = Math.min(line.length(), at + MAX_PART_CHARS);
        if (stop < line.length() && Character.isHighSurrogate(line.charAt(stop - 1))) {
          stop--; // never split a character in two
        }
        String piece = line.substring(at, stop);
        parts.add(LogEntry.newBuilder().setStage(stage).setStream(stream).setRaw(piece)
            .setMessage(piece).setLevel(LogLevel.LOG_LEVEL_INFO)
            .setTime(Times.timestamp(clock.instant())).setPart(parts.size())
            .setLastPart(stop >= line.length()));
        at = stop;
      }
    }
    synchronized (this) {
      if (refused) {
        return; // the control plane will take none of it; the result report says so
      }
      int skip = split ? skipParts.getOrDefault(source, 0) : 0;
      skipParts.remove(source);
      long lineId = split ? nextLineId++ : 0;
      boolean wasEmpty = unacked.isEmpty();
      long unsentBefore = unsentBytes;
      for (int i = 0; i < parts.size(); i++) {
        boolean last = i == parts.size() - 1;
        if (i < skip) {
          continue; // numbered and stored before the agent restarted
        }
        LogEntry entry = parts.get(i).setSeq(nextSeq++).setLineId(lineId).build();
        // Inside a long line, a resumed reader starts at the line and skips the parts sent.
        unacked.addLast(last
            ? new Pending(entry, source, end, 0, nextLineId)
            : new Pending(entry, source, start, i + 1, lineId));
        int size = entry.getSerializedSize();
        unackedBytes += size;
        unsentBytes += size;
        AgentMetrics.logUnacknowledged(size);
      }
      // The sender waits for a first entry, or out the checkpoint interval unless SYNC_BYTES
      // are waiting: only those two wake it (a wake-up for every line cost the reader's CPU
      // and Terraform's, on a busy log).
      if (wasEmpty || unsentBefore < SYNC_BYTES && unsentBytes >= SYNC_BYTES) {
        notifyAll();
      }
    }
  }

  /**
   * The most log the job may produce, in bytes of lines (0: no limit); a warning goes to the
   * log at 80%, and {@link #overLimit()} tells the job's runner to stop the job. Lines past the
   * limit are still read and delivered: nothing produced is dropped.
   */
  public void limit(long bytes) {
    this.logLimit = bytes;
  }

  public long limit() {
    return logLimit;
  }

  public boolean overLimit() {
    long limit = logLimit;
    return limit > 0 && lineBytes.get() >= limit;
  }

  /** About how many bytes of lines were read (characters, plus one per line end). */
  public long lineBytes() {
    return lineBytes.get();
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
    drain();
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

  /**
   * Nothing more is coming but what is already read: the rest goes out at once, without
   * waiting out the checkpoint interval.
   */
  public synchronized void drain() {
    draining = true;
    notifyAll();
  }

  /** Why delivery is stuck, if it is (for the job's final report). */
  public String deliveryProblem() {
    return deliveryProblem;
  }

  /**
   * Takes the next batch: the oldest unacknowledged entries. When the batch reaches past the
   * last checkpoint a new one is forced to the journal first, at most every
   * {@link #SYNC_INTERVAL} unless {@link #SYNC_BYTES} are waiting or someone waits for the
   * whole log to be delivered (the job is over). Null when closed.
   *
   * <p>The checkpoint is forced outside the pipeline's monitor: a force can take tens of
   * milliseconds on a busy disk, and meanwhile the job's thread (its setup messages, before
   * Terraform starts) and the readers go on adding entries. Only the sender reads or writes
   * the journal's bookkeeping ({@code journaled*}, {@code lastSync}), so it needs no lock.
   */
  private List<LogEntry> nextBatch() throws InterruptedException, IOException {
    Selected next = selectBatch();
    if (next == null || next.checkpoint() == null) {
      return next == null ? null : next.batch();
    }
    LogJournal.Checkpoint c = next.checkpoint();
    journal.record(c);
    lastSync = System.nanoTime();
    journaledSeq = c.lastSeq();
    journaledLineId = c.nextLineId();
    journaled.clear();
    journaled.putAll(c.positions());
    synchronized (this) {
      if (!closed) {
        unsentBytes -= next.newlyJournaled();
      }
    }
    return next.batch();
  }

  /** A batch to send, and the checkpoint to force before it (null: none is needed). */
  private record Selected(List<LogEntry> batch, LogJournal.Checkpoint checkpoint,
      long newlyJournaled) {}

  private synchronized Selected selectBatch() throws InterruptedException {
    while (true) {
      while (unacked.isEmpty() && !closed) {
        wait();
      }
      if (closed) {
        return null;
      }
      long sinceSync = System.nanoTime() - lastSync;
      boolean needsCheckpoint = unacked.peekLast().entry().getSeq() > journaledSeq;
      if (needsCheckpoint && !draining && sinceSync < SYNC_INTERVAL.toNanos()
          && unsentBytes < SYNC_BYTES) {
        wait(Math.max(1, (SYNC_INTERVAL.toNanos() - sinceSync) / 1_000_000));
        continue;
      }
      List<LogEntry> batch = new ArrayList<>(Math.min(unacked.size(), MAX_BATCH_ENTRIES));
      int bytes = 0;
      long lineId = journaledLineId;
      // Where each source stands after the batch: its last entry in it says (sources are few,
      // and a source's entries come in runs: the map is written where a run ends).
      Map<String, Pending> lastOfSource = new HashMap<>();
      Pending runEnd = null;
      long newlyJournaled = 0;
      for (Pending p : unacked) {
        boolean full = batch.size() >= MAX_BATCH_ENTRIES || bytes >= MAX_BATCH_BYTES;
        if (full) {
          break;
        }
        batch.add(p.entry());
        int size = p.entry().getSerializedSize();
        bytes += size;
        if (p.entry().getSeq() > journaledSeq) {
          if (runEnd != null && !runEnd.source().equals(p.source())) {
            lastOfSource.put(runEnd.source(), runEnd);
          }
          runEnd = p;
          lineId = p.nextLineId();
          newlyJournaled += size;
        }
      }
      if (runEnd != null) {
        lastOfSource.put(runEnd.source(), runEnd);
      }
      Map<String, Long> positions = new TreeMap<>(journaled);
      for (Pending p : lastOfSource.values()) {
        positions.put(p.source(), p.offset());
        if (p.partsDone() > 0) {
          positions.put(p.source() + PARTS, (long) p.partsDone());
        } else {
          positions.remove(p.source() + PARTS);
        }
      }
      long last = batch.get(batch.size() - 1).getSeq();
      return new Selected(batch, last > journaledSeq
          ? new LogJournal.Checkpoint(last + 1, lineId, positions) : null, newlyJournaled);
    }
  }

  private void sendLoop() {
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));
    while (!closed) {
      List<LogEntry> batch;
      try {
        batch = nextBatch();
      } catch (InterruptedException e) {
        return;
      } catch (IOException e) {
        if (closed) {
          return; // the journal was closed under a checkpoint: nothing more is sent
        }
        // Sending what the journal cannot record would break exactly-once after a restart.
        deliveryProblem = "cannot write the log journal: " + e.getMessage();
        log.error("job {}: {}; retrying", jobId, deliveryProblem);
        if (!pause(backoff)) {
          return;
        }
        continue;
      }
      if (batch == null) {
        return;
      }
      try {
        long ack = sink.send(batch);
        backoff.reset();
        deliveryProblem = null;
        synchronized (this) {
          acked = Math.max(acked, ack);
          long lines = 0;
          long bytes = 0;
          while (!unacked.isEmpty() && unacked.peekFirst().entry().getSeq() <= acked) {
            int size = unacked.removeFirst().entry().getSerializedSize();
            unackedBytes -= size;
            lines++;
            bytes += size;
          }
          AgentMetrics.logUnacknowledged(-bytes);
          AgentMetrics.logSent(lines, bytes);
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
        if (!pause(backoff)) {
          return;
        }
      }
    }
  }

  private static boolean pause(Backoff backoff) {
    try {
      Thread.sleep(backoff.next().toMillis());
      return true;
    } catch (InterruptedException ie) {
      return false;
    }
  }

  @Override
  public void close() {
    closed = true;
    synchronized (this) {
      // What is left unacknowledged is in the journal for a later process; not this one's.
      AgentMetrics.logUnacknowledged(-unackedBytes);
      unackedBytes = 0;
      unsentBytes = 0;
      unacked.clear();
      notifyAll();
    }
    // The journal first: closing it waits out a checkpoint being forced, and the sender is
    // interrupted only after (an interrupt would close the channel mid-write).
    try {
      journal.close();
    } catch (IOException e) {
      log.debug("job {}: closing the log journal: {}", jobId, e.toString());
    }
    sender.interrupt();
    synchronized (tails) {
      tails.values().forEach(FileTail::close);
    }
  }
}
