package dev.outpost.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.Stage;
import dev.outpost.proto.v1.TemplateImport;
import dev.outpost.stub.server.SourceArchive;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Whole-process measurements of one agent (the runnable jar, the launcher's default JVM flags,
 * the default sandbox) against an embedded control plane:
 *
 * <ul>
 *   <li>start to ready: from starting the agent's JVM to its {@code /readyz} answering 200
 *       (connected, certificate in hand), polled every 5 ms;
 *   <li>RSS idle and connected: the JVM's VmRSS from /proc, 3 s after ready;
 *   <li>dispatch latency: from the submit call returning to the job's first log entry of the
 *       init stage, which the agent writes as it launches the first Terraform command (both on
 *       this machine's clock); each job is submitted to an idle, connected agent, after
 *       {@link #WARM_UP_JOBS} jobs that are not recorded.
 * </ul>
 *
 * Writes the samples as JSON for {@link Report}.
 */
public final class WholeProcess {
  /**
   * Agents are started by the launcher, packaging/bin/outpost-agent, as a supervisor starts
   * them: with its JVM flags and its class-data archive (see {@link Harness#startAgent}). Set,
   * BENCH_JVM_FLAGS replaces the launcher's flags (its JAVA_OPTS), to compare.
   */
  static final String JVM_FLAGS = System.getenv("BENCH_JVM_FLAGS");

  private WholeProcess() {}

  /**
   * Arguments: the agent jar, the output JSON, the number of starts, the number of jobs, and
   * optionally the seconds the last agent is left idle before its RSS is read (3).
   */
  public static void main(String[] args) throws Exception {
    ObjectNode out = run(Path.of(args[0]), Integer.parseInt(args[2]), Integer.parseInt(args[3]),
        args.length > 4 ? Duration.ofSeconds(Long.parseLong(args[4])) : IDLE);
    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(Path.of(args[1]).toFile(), out);
  }

  /**
   * Jobs run before the dispatch latency is recorded: a daemon's steady state, not its first
   * minutes of class loading and compilation, is what a user lives with.
   */
  static final int WARM_UP_JOBS = 10;

  /** How long a connected agent is left alone before its idle RSS is read. */
  static final Duration IDLE = Duration.ofSeconds(3);

  /**
   * @param starts agent starts, each timed to ready; the last agent stays up for the rest
   * @param jobs jobs for the dispatch latency, one at a time
   * @param idle how long the last agent is left idle before its RSS is read
   */
  public static ObjectNode run(Path agentJar, int starts, int jobs, Duration idle)
      throws Exception {
    try (Harness h = Harness.start(agentJar)) {
      return measure(h, starts, jobs, idle);
    }
  }

  private static ObjectNode measure(Harness h, int starts, int jobs, Duration idle)
      throws Exception {
    ObjectNode out = new ObjectMapper().createObjectNode();
    var startMillis = out.putArray("startToReadyMillis");
    var rss = out.putArray("rssIdleKiB");
    for (int i = 0; i < starts; i++) {
      int port = Harness.freePort();
      long began = System.nanoTime();
      Process agent = h.startAgent("start-" + i, port, List.of(), Map.of());
      try {
        h.awaitReady(agent, port);
        startMillis.add((System.nanoTime() - began) / 1_000_000);
        if (i == starts - 1) {
          // The last agent stays up, idle, for the RSS reading and the dispatch run.
          Thread.sleep(idle.toMillis());
          rss.add(Harness.rssKiB(agent.pid()));
          var dispatch = out.putArray("dispatchMillis");
          byte[] archive = SourceArchive.pack(config(h.dir));
          long peak = 0;
          for (int j = -Math.min(WARM_UP_JOBS, jobs); j < jobs; j++) {
            Job job = h.submit("ws-" + j, JobType.newBuilder().setTemplateImport(
                TemplateImport.getDefaultInstance()).build(), archive);
            Instant submitted = Instant.now();
            h.awaitSucceeded(job.getId(), agent, Duration.ofMinutes(2));
            peak = Math.max(peak, Harness.rssKiB(agent.pid()));
            if (j < 0) {
              continue; // warm-up
            }
            dispatch.add(Duration.between(submitted, terraformStarted(h, job.getId()))
                .toNanos() / 1e6);
          }
          out.put("rssAfterJobsKiB", peak);
        }
      } finally {
        Harness.stop(agent);
      }
    }
    return out;
  }

  /** The smallest configuration: no provider to download; init and plan are all it costs. */
  private static Path config(Path dir) throws IOException {
    Path source = Files.createDirectories(dir.resolve("source"));
    Files.writeString(source.resolve("main.tf"), "resource \"terraform_data\" \"x\" {\n"
        + "  input = \"bench\"\n}\n");
    return source;
  }

  /**
   * When the job's first Terraform command started: the time of the job's first log entry of
   * the init stage, which the agent writes as that command is launched (the entries before it
   * are the agent's own setup messages).
   */
  private static Instant terraformStarted(Harness h, String jobId) {
    for (LogEntry entry : h.log(jobId)) {
      if (entry.getStage() == Stage.STAGE_INIT) {
        return Times.instant(entry.getTime());
      }
    }
    throw new IllegalStateException("job " + jobId + " has no init entry in its log");
  }
}
