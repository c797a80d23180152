package dev.outpost.agent.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.logs.LogPipeline;
import dev.outpost.agent.logs.LogReaders;
import dev.outpost.agent.logs.Redactor;
import dev.outpost.agent.ops.AgentMetrics;
import dev.outpost.agent.ops.ByteSize;
import dev.outpost.agent.sandbox.LimitsInForce;
import dev.outpost.agent.terraform.TerraformMessage;
import dev.outpost.agent.terraform.TerraformRun;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.Stage;
import java.io.IOException;
import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Locale;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a job's Terraform commands one at a time, streaming their output, and stops the one
 * running when the job is cancelled: SIGINT to its process group, the grace period, then the
 * sandbox is killed. {@link #cancel} may come from any thread and never waits for a launch.
 */
final class StageRunner {
  private static final Logger log = LoggerFactory.getLogger(StageRunner.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration LIVENESS_EVERY = Duration.ofMillis(50);
  /** How often the job's thread checks a running command against its limits. */
  private static final Duration WATCH_EVERY = Duration.ofMillis(25);

  interface Start {
    TerraformRun start() throws IOException;
  }

  private final String jobId;
  private final LogPipeline pipeline;
  private final LogReaders readers;
  private final Redactor redactor;
  private final Duration grace;
  private final Object lock = new Object();
  private final Set<TerraformRun> stopping = Collections.newSetFromMap(new IdentityHashMap<>());
  private volatile String cancelReason;
  private volatile TerraformRun current;
  private volatile TerraformRun last;

  private final Duration stageTimeout;
  private final DiskBudget diskBudget;
  private LimitsInForce reportedLimits;
  /** Commands an earlier agent process started, taken in order instead of starting anew. */
  private final java.util.Deque<TerraformRun> recorded = new java.util.ArrayDeque<>();

  /** @param diskBudget checked while each command runs; null for none */
  StageRunner(String jobId, LogPipeline pipeline, LogReaders readers, Redactor redactor,
      Duration grace, Duration stageTimeout, DiskBudget diskBudget) {
    this.readers = readers;
    this.stageTimeout = stageTimeout;
    this.diskBudget = diskBudget;
    this.jobId = jobId;
    this.pipeline = pipeline;
    this.redactor = redactor;
    this.grace = grace;
  }

  /**
   * Resumes a job after an agent restart: the next commands the workflow asks for are the ones
   * the earlier process started (running or ended), as long as they match; then new ones.
   */
  void replay(java.util.List<TerraformRun> runs) {
    recorded.addAll(runs);
  }

  /** The recorded command for this stage, or null to start a new one. */
  private TerraformRun recorded(Stage stage) {
    TerraformRun run = recorded.pollFirst();
    if (run == null) {
      return null;
    }
    String expected = switch (stage) {
      case STAGE_INIT -> "init";
      case STAGE_PLAN -> "plan";
      case STAGE_APPLY, STAGE_DESTROY -> "apply";
      case STAGE_SHOW -> "show";
      default -> stage.name();
    };
    if (!expected.equals(run.stage())) {
      recorded.clear();
      throw new IllegalStateException("the commands recorded in the job directory (terraform "
          + run.stage() + " next) do not match the job's workflow (terraform " + expected + ")");
    }
    return run;
  }

  /** Stops the job once its log passes this many bytes (0: never), with a warning at 80%. */
  void limitLog(long bytes) {
    pipeline.limit(bytes);
  }

  /** A failure when the job's log is over its limit. */
  private String checkLog() {
    if (!pipeline.overLimit()) {
      return null;
    }
    AgentMetrics.logLimitReached();
    return "the job's log reached its limit of " + ByteSize.format(pipeline.limit())
        + " (--job-log-limit) and the job was stopped; every line written so far is delivered";
  }

  LogPipeline pipeline() {
    return pipeline;
  }

  String cancelReason() {
    return cancelReason;
  }

  /** The last command started, for its messages and diagnostics. */
  TerraformRun last() {
    return last;
  }

  void cancel(String reason) {
    synchronized (lock) {
      if (cancelReason != null) {
        return;
      }
      cancelReason = reason;
    }
    log.info("job {}: stopping: {}", jobId, reason);
    TerraformRun run = current;
    if (run != null) {
      stopInBackground(run);
    }
  }

  private void stopInBackground(TerraformRun run) {
    synchronized (lock) {
      if (!stopping.add(run)) {
        return;
      }
    }
    Thread stopper = new Thread(() -> {
      try {
        run.stop(grace);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "stop-" + jobId);
    stopper.setDaemon(true);
    stopper.start();
  }

  /** Runs one Terraform command to its end; null when it succeeded. */
  JobOutcome run(Stage stage, Start start) throws Exception {
    if (cancelReason != null) {
      return new JobOutcome.Cancelled(cancelReason, -1);
    }
    TerraformRun resumed = recorded(stage);
    TerraformRun run = resumed != null ? resumed : start.start();
    long began = System.nanoTime();
    current = run;
    last = run;
    if (cancelReason != null) {
      // The cancel arrived while the command was being launched.
      stopInBackground(run);
    }
    if (resumed == null) {
      reportLimits(stage, run.process().limitsInForce());
    }
    // Ends when the command has recorded its exit status, or when it is gone without one (the
    // wrapper itself was killed).
    Watch watch = new Watch(run, stage);
    BooleanSupplier ended = ended(run);
    readers.follow(() -> pipeline.follow(stage, run.stdoutFile(), run.stderrFile(), ended),
        watch::check, WATCH_EVERY);
    Integer code = run.waitFor(Duration.ofSeconds(5)).orElse(null);
    AgentMetrics.stageFinished(name(stage), Duration.ofNanos(System.nanoTime() - began));
    if (watch.failure != null) {
      current = null;
      run.stop(Duration.ZERO);
      return new JobOutcome.Failed(watch.failure, code == null ? -1 : code);
    }
    current = null;
    // Terraform has exited, but a local-exec's background children may live on inside the
    // sandbox; they must not outlive their stage.
    run.stop(Duration.ZERO);
    if (code == null) {
      // Killed: after the grace of a cancel that is still a cancel; otherwise something else
      // killed it.
      return cancelReason != null ? new JobOutcome.Cancelled(cancelReason, -1)
          : new JobOutcome.Interrupted("terraform " + name(stage)
              + " ended without an exit status (its process was killed)");
    }
    if (run.succeeded(code)) {
      // A cancel after a successful apply or destroy came too late to matter; after an
      // earlier stage it stops the job before the next one.
      boolean last = stage == Stage.STAGE_APPLY || stage == Stage.STAGE_DESTROY;
      return cancelReason != null && !last ? new JobOutcome.Cancelled(cancelReason, code) : null;
    }
    if (cancelReason != null) {
      return new JobOutcome.Cancelled(cancelReason, code);
    }
    return new JobOutcome.Failed(redactor.redact(errorText(stage, run, code)), code);
  }

  /**
   * True once the command's exit status is recorded (looked at on every call: a stat or two),
   * or once it is gone without one, its wrapper killed: rare, so /proc is read only every
   * {@link #LIVENESS_EVERY}.
   */
  private static BooleanSupplier ended(TerraformRun run) {
    long[] nextLook = {System.nanoTime()};
    return () -> {
      if (run.exitCode().isPresent()) {
        return true;
      }
      long now = System.nanoTime();
      if (now - nextLook[0] < 0) {
        return false;
      }
      nextLook[0] = now + LIVENESS_EVERY.toNanos();
      return !run.process().isAlive();
    };
  }

  /** The first command's limits, and any later command's that differ, go to the job log. */
  private void reportLimits(Stage stage, LimitsInForce limits) {
    if (!limits.equals(reportedLimits)) {
      reportedLimits = limits;
      pipeline.agentMessage(stage, LogLevel.LOG_LEVEL_INFO, "sandbox " + limits.summary());
    }
  }

  /**
   * Stops a command that runs past the stage timeout, over the job's disk budget or over the
   * log limit, once, gracefully as on cancel. Checked on the job's thread while a reader
   * follows the command's output, so the stop is started by a thread of the normal class.
   */
  private final class Watch {
    private final TerraformRun run;
    private final Stage stage;
    private final long end;
    String failure;

    Watch(TerraformRun run, Stage stage) {
      this.run = run;
      this.stage = stage;
      this.end = stageTimeout.isZero() ? Long.MAX_VALUE
          : System.nanoTime() + stageTimeout.toNanos();
    }

    void check() {
      if (failure != null) {
        return;
      }
      if (System.nanoTime() > end) {
        failure = "terraform " + name(stage) + " exceeded the stage timeout of " + stageTimeout
            + " and was stopped";
      } else {
        failure = checkLog();
        if (failure == null && diskBudget != null) {
          failure = diskBudget.check();
        }
      }
      if (failure != null) {
        log.warn("job {}: {}", jobId, failure);
        pipeline.agentMessage(stage, LogLevel.LOG_LEVEL_ERROR, failure);
        stopInBackground(run);
      }
    }
  }

  /**
   * Runs a command whose standard output is a secret payload (show -json of a plan or state):
   * only its standard error goes to the log.
   */
  JobOutcome runQuiet(Stage stage, Start start) throws Exception {
    if (cancelReason != null) {
      return new JobOutcome.Cancelled(cancelReason, -1);
    }
    TerraformRun resumed = recorded(stage);
    TerraformRun run = resumed != null ? resumed : start.start();
    long began = System.nanoTime();
    current = run;
    if (cancelReason != null) {
      stopInBackground(run);
    }
    readers.follow(() -> pipeline.follow(stage, null, run.stderrFile(),
        () -> run.exitCode().isPresent() || !run.process().isAlive()), () -> { }, WATCH_EVERY);
    Integer code = run.waitFor(Duration.ofSeconds(5)).orElse(null);
    AgentMetrics.stageFinished(name(stage), Duration.ofNanos(System.nanoTime() - began));
    current = null;
    run.stop(Duration.ZERO);
    if (code == null) {
      return new JobOutcome.Interrupted("terraform " + name(stage) + " ended without an exit "
          + "status (its process was killed)");
    }
    if (code == 0) {
      return null;
    }
    if (cancelReason != null) {
      return new JobOutcome.Cancelled(cancelReason, code);
    }
    return new JobOutcome.Failed(redactor.redact("terraform " + name(stage) + " exited with "
        + code + ": " + run.stderrTail(2000)), code);
  }

  static String name(Stage stage) {
    return stage.name().replace("STAGE_", "").toLowerCase(Locale.ROOT);
  }

  /** Terraform's error diagnostics (summary and detail), else the end of its stderr. */
  static String errorText(Stage stage, TerraformRun run, int code) throws IOException {
    StringBuilder text = new StringBuilder();
    for (TerraformMessage m : run.diagnostics()) {
      if (!"error".equals(m.level())) {
        continue;
      }
      var diagnostic = JSON.readTree(m.json()).path("diagnostic");
      text.append(diagnostic.path("summary").asText(m.message()));
      String detail = diagnostic.path("detail").asText("");
      if (!detail.isEmpty()) {
        text.append(": ").append(detail);
      }
      text.append('\n');
    }
    if (text.isEmpty()) {
      text.append(run.stderrTail(2000));
    }
    return "terraform " + name(stage) + " exited with " + code
        + (text.isEmpty() ? "" : ": " + text.toString().strip());
  }
}
