package dev.outpost.agent.logs;

import dev.outpost.proto.v1.AppendLogsRequest;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The per-line work of the log pipeline, on one thread: take a line of Terraform output as the
 * bytes read, check it against 50 secrets (decoding and redacting it when it needs that), parse
 * it into a log entry (Terraform's machine-readable UI, or plain text), and add it to a batch
 * that is cut and serialized as an AppendLogs request at the pipeline's limits (5000 entries or
 * 1 MiB). Reading files and the network are not in it.
 * The score is lines per second per core.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LogPipelineBenchmark {
  /** Lines per invocation: a mix like an apply's, replayed in order. */
  static final int LINES = 1000;
  private static final int MAX_BATCH_ENTRIES = 5000;
  private static final int MAX_BATCH_BYTES = 1 << 20;

  private byte[][] lines;
  private Redactor redactor;
  private final List<LogEntry> batch = new ArrayList<>();
  private long batchBytes;
  private long seq;
  private final Instant readAt = Instant.parse("2026-11-28T04:00:00Z");

  @Setup
  public void prepare() {
    Random random = new Random(42);
    List<String> secrets = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      secrets.add("s3cr3t-" + Long.toHexString(random.nextLong()));
    }
    redactor = new Redactor(secrets);
    lines = new byte[LINES][];
    for (int i = 0; i < LINES; i++) {
      String address = "terraform_data.item[" + i % 20 + "]";
      String line = switch (i % 5) {
        case 0 -> "{\"@level\":\"info\",\"@message\":\"" + address + ": Creating...\","
            + "\"@module\":\"terraform.ui\",\"@timestamp\":\"2026-11-28T04:00:00.123456+00:00\","
            + "\"hook\":{\"resource\":{\"addr\":\"" + address + "\",\"module\":\"\","
            + "\"resource\":\"" + address + "\",\"implied_provider\":\"terraform\","
            + "\"resource_type\":\"terraform_data\",\"resource_name\":\"item\","
            + "\"resource_key\":" + i % 20 + "},\"action\":\"create\"},\"type\":\"apply_start\"}";
        case 1 -> "{\"@level\":\"info\",\"@message\":\"" + address + " (local-exec): line " + i
            + " of the job's output\",\"@module\":\"terraform.ui\","
            + "\"@timestamp\":\"2026-11-28T04:00:00.123456+00:00\",\"hook\":{\"resource\":"
            + "{\"addr\":\"" + address + "\"},\"provisioner\":\"local-exec\",\"output\":"
            + "\"line " + i + "\"},\"type\":\"provision_progress\"}";
        case 2 -> "plain output of a provisioner, line " + i + ", token " + secrets.get(i % 50);
        case 3 -> "{\"@level\":\"warn\",\"@message\":\"Warning: Argument is deprecated\","
            + "\"@module\":\"terraform.ui\",\"@timestamp\":\"2026-11-28T04:00:00.123456+00:00\","
            + "\"diagnostic\":{\"severity\":\"warning\",\"summary\":\"Argument is deprecated\","
            + "\"detail\":\"Use the other one.\",\"range\":{\"filename\":\"main.tf\","
            + "\"start\":{\"line\":12,\"column\":3,\"byte\":200}}},\"type\":\"diagnostic\"}";
        default -> "{\"@level\":\"info\",\"@message\":\"Apply complete! Resources: 20 added, 0 "
            + "changed, 0 destroyed.\",\"@module\":\"terraform.ui\","
            + "\"@timestamp\":\"2026-11-28T04:00:00.123456+00:00\",\"changes\":{\"add\":20,"
            + "\"change\":0,\"import\":0,\"remove\":0,\"operation\":\"apply\"},"
            + "\"type\":\"change_summary\"}";
      };
      lines[i] = line.getBytes(StandardCharsets.UTF_8);
    }
  }

  @Benchmark
  @OperationsPerInvocation(LINES)
  public long parseRedactBatch() {
    long sent = 0;
    for (byte[] read : lines) {
      // As the pipeline takes a line read from a file (LogPipeline.addOutput): ASCII bytes with
      // nothing to mask go on as they are, any other line is decoded and redacted; parsing
      // includes the message's second redaction pass where it needs one.
      int high = 0;
      for (byte b : read) {
        high |= b; // the file reader notes this while it looks for the newline
      }
      LogEntry.Builder parsed = high >= 0 && !redactor.occursInAscii(read, 0, read.length)
          ? LogLines.parse(Stage.STAGE_APPLY, LogStream.LOG_STREAM_STDOUT, null, read, 0,
              read.length, readAt, redactor)
          : LogLines.parse(Stage.STAGE_APPLY, LogStream.LOG_STREAM_STDOUT,
              redactor.redact(new String(read, StandardCharsets.UTF_8)), null, 0, 0, readAt,
              redactor);
      LogEntry entry = parsed.setSeq(++seq).setLineId(0).build();
      int size = entry.getSerializedSize();
      if (batch.size() == MAX_BATCH_ENTRIES || batchBytes + size > MAX_BATCH_BYTES) {
        sent += send();
      }
      batch.add(entry);
      batchBytes += size;
    }
    return sent;
  }

  private long send() {
    int size = AppendLogsRequest.newBuilder().addAllEntries(batch).build().toByteArray().length;
    batch.clear();
    batchBytes = 0;
    return size;
  }
}
