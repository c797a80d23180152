package dev.outpost.agent.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.logs.LogPipeline;
import dev.outpost.agent.logs.Redactor;
import dev.outpost.agent.terraform.ApplyOptions;
import dev.outpost.agent.terraform.InitOptions;
import dev.outpost.agent.terraform.PlanOptions;
import dev.outpost.agent.terraform.Terraform;
import dev.outpost.agent.terraform.TerraformEnvironment;
import dev.outpost.agent.terraform.TerraformMessage;
import dev.outpost.agent.terraform.TerraformRun;
import dev.outpost.agent.workspace.ArchiveExtractor;
import dev.outpost.agent.workspace.JobDirectory;
import dev.outpost.proto.Payloads;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.Stage;
import dev.outpost.proto.v1.Variable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Runs one job from assignment to acknowledged result: prepares the job directory, runs the
 * Terraform stages in the sandbox while the log pipeline streams their output, and hands the
 * outcome to the {@link ResultReporter}. Cancellation may arrive from any thread at any time.
 */
public final class JobRunner implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(JobRunner.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PLAN_FILE = "outpost.tfplan";

  private final JobAssignment assignment;
  private final JobSettings settings;
  private final JobCalls calls;
  private final Runnable onFinished;
  private final Redactor redactor;
  private volatile String cancelReason;
  private volatile TerraformRun current;
  private final Object cancelLock = new Object();
  private final java.util.Set<TerraformRun> stopping =
      java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

  public JobRunner(JobAssignment assignment, JobSettings settings, JobCalls calls,
      Runnable onFinished) {
    this.assignment = assignment;
    this.settings = settings;
    this.calls = calls;
    this.onFinished = onFinished;
    List<String> secrets = new ArrayList<>();
    assignment.getVariablesList().stream().filter(Variable::getSensitive)
        .forEach(v -> secrets.add(v.getValue()));
    this.redactor = new Redactor(secrets);
  }

  public String jobId() {
    return assignment.getLease().getJobId();
  }

  public dev.outpost.proto.v1.LeaseRef lease() {
    return assignment.getLease();
  }

  /**
   * Stops the job: SIGINT to Terraform's group now, kill after the grace. Idempotent, and it
   * never waits for a command being launched (it is called from the session's thread).
   */
  public void cancel(String reason) {
    synchronized (cancelLock) {
      if (cancelReason != null) {
        return;
      }
      cancelReason = reason;
    }
    log.info("job {}: stopping: {}", jobId(), reason);
    TerraformRun run = current;
    if (run != null) {
      stopInBackground(run);
    }
  }

  private void stopInBackground(TerraformRun run) {
    synchronized (cancelLock) {
      if (stopping.contains(run)) {
        return;
      }
      stopping.add(run);
    }
    Thread stopper = new Thread(() -> {
      try {
        run.stop(settings.cancelGrace());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "stop-" + jobId());
    stopper.setDaemon(true);
    stopper.start();
  }

  @Override
  public void run() {
    MDC.put("job", jobId());
    JobDirectory dir = null;
    try (LogPipeline pipeline = new LogPipeline(jobId(), redactor, calls::appendLogs,
        settings.clock())) {
      JobOutcome outcome;
      Terraform terraform = null;
      try {
        dir = JobDirectory.create(settings.workDir(), jobId());
        terraform = prepare(dir, pipeline);
        outcome = execute(terraform, dir, pipeline);
      } catch (Exception e) {
        log.warn("job {}: failed before or between Terraform runs: {}", jobId(),
            redactor.redact(e.toString()));
        outcome = new JobOutcome.Failed(redactor.redact(String.valueOf(e.getMessage())), -1);
      }
      boolean acknowledged = new ResultReporter(assignment, settings, calls, pipeline)
          .report(outcome, dir, terraform);
      if (acknowledged && dir != null) {
        dir.delete();
      }
    } catch (Exception e) {
      log.error("job {}: could not deliver its result; the job directory is kept: {}", jobId(),
          redactor.redact(e.toString()));
    } finally {
      MDC.remove("job");
      onFinished.run();
    }
  }

  private Terraform prepare(JobDirectory dir, LogPipeline pipeline) throws Exception {
    pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_INFO, "job " + jobId() + ": "
        + jobType() + " on workspace " + assignment.getWorkspace().getOrg() + "/"
        + assignment.getWorkspace().getName() + " with " + settings.terraformVersion().getName()
        + " " + settings.terraformVersion().getVersion() + " in sandbox "
        + settings.sandbox().name());
    long shortSecrets = Redactor.tooShort(assignment.getVariablesList().stream()
        .filter(Variable::getSensitive).map(Variable::getValue).toList());
    if (shortSecrets > 0) {
      pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_WARN, shortSecrets
          + " sensitive value(s) shorter than " + Redactor.MIN_SECRET_LENGTH
          + " characters cannot be masked in the log");
    }
    Path archive = dir.controlDir().resolve("source.tar.gz");
    download(PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE, assignment.getSource(), archive);
    new ArchiveExtractor().extract(archive, dir.sourceDir());
    Files.delete(archive);
    if (Payloads.isPresent(assignment.getPriorState())) {
      Path prior = dir.controlDir().resolve("prior.tfstate");
      download(PayloadKind.PAYLOAD_KIND_PRIOR_STATE, assignment.getPriorState(), prior);
      dir.writePriorState(Files.readAllBytes(prior));
      Files.delete(prior);
    }
    Map<String, String> vars = new LinkedHashMap<>();
    for (Variable v : assignment.getVariablesList()) {
      vars.put(v.getName(), v.getJson() ? v.getValue() : JSON.writeValueAsString(v.getValue()));
    }
    dir.writeVariables(vars);
    Map<String, String> env = TerraformEnvironment.forJob(dir.root()).build();
    return new Terraform(settings.terraform(), dir.sourceDir(), dir.root(), settings.sandbox(),
        env, !"none".equals(assignment.getNetwork()));
  }

  /** Downloads with retries on transient failures; the digest must be the assignment's. */
  private void download(PayloadKind kind, dev.outpost.proto.v1.PayloadRef expected, Path target)
      throws Exception {
    dev.outpost.agent.daemon.Backoff backoff = new dev.outpost.agent.daemon.Backoff(
        Duration.ofMillis(100), Duration.ofSeconds(5));
    for (int attempt = 1; ; attempt++) {
      try {
        calls.download(kind, target);
        break;
      } catch (Exception e) {
        if (attempt >= 8 || !dev.outpost.agent.daemon.Failure.isRetryable(e)
            || cancelReason != null) {
          throw e;
        }
        Thread.sleep(backoff.next().toMillis());
      }
    }
    String actual = Payloads.sha256(Files.readAllBytes(target));
    if (!actual.equals(expected.getSha256())) {
      throw new java.io.IOException(kind + " has sha256 " + actual + " but the assignment "
          + "announced " + expected.getSha256());
    }
  }

  private JobOutcome execute(Terraform tf, JobDirectory dir, LogPipeline pipeline)
      throws Exception {
    switch (assignment.getType().getTypeCase()) {
      case APPLY -> {
        if (!assignment.getType().getApply().getSavedPlanJobId().isEmpty()) {
          return unsupported("apply of a saved plan");
        }
        Path plan = dir.controlDir().resolve(PLAN_FILE);
        JobOutcome failed = stage(Stage.STAGE_INIT, () -> tf.init(InitOptions.defaults()), pipeline);
        if (failed == null) {
          failed = stage(Stage.STAGE_PLAN, () -> tf.plan(PlanOptions.to(plan)), pipeline);
        }
        if (failed == null) {
          failed = stage(Stage.STAGE_APPLY, () -> tf.apply(ApplyOptions.ofPlan(plan)), pipeline);
        }
        return failed == null ? new JobOutcome.Succeeded() : failed;
      }
      default -> {
        return unsupported(jobType());
      }
    }
  }

  private JobOutcome unsupported(String what) {
    return new JobOutcome.Failed("this agent does not run " + what + " jobs yet", -1);
  }

  private interface Start {
    TerraformRun start() throws IOException;
  }

  /** Runs one Terraform command to its end; null when it succeeded. */
  private JobOutcome stage(Stage stage, Start start, LogPipeline pipeline) throws Exception {
    if (cancelReason != null) {
      return new JobOutcome.Cancelled(cancelReason, -1);
    }
    TerraformRun run = start.start();
    current = run;
    if (cancelReason != null) {
      // The cancel arrived while the command was being launched.
      stopInBackground(run);
    }
    // Ends when the command has recorded its exit status, or when it is gone without one (the
    // wrapper itself was killed).
    pipeline.follow(stage, run.stdoutFile(), run.stderrFile(),
        () -> run.exitCode().isPresent() || !run.process().isAlive());
    Integer code = run.waitFor(Duration.ofSeconds(5)).orElse(null);
    current = null;
    // Terraform has exited, but a local-exec's background children may live on inside the
    // sandbox; they must not outlive their stage.
    run.stop(Duration.ZERO);
    if (code == null) {
      return new JobOutcome.Interrupted("terraform " + stageName(stage)
          + " ended without an exit status (its process was killed)");
    }
    if (run.succeeded(code)) {
      // A cancel that arrives after the command succeeded is too late to matter for it; the
      // next stage is not started.
      return cancelReason != null && stage != Stage.STAGE_APPLY
          ? new JobOutcome.Cancelled(cancelReason, code) : null;
    }
    if (cancelReason != null) {
      return new JobOutcome.Cancelled(cancelReason, code);
    }
    return new JobOutcome.Failed(redactor.redact(errorText(stage, run, code)), code);
  }

  static String stageName(Stage stage) {
    return stage.name().replace("STAGE_", "").toLowerCase(java.util.Locale.ROOT);
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
    return "terraform " + stageName(stage) + " exited with " + code
        + (text.isEmpty() ? "" : ": " + text.toString().strip());
  }

  private String jobType() {
    return assignment.getType().getTypeCase().name().toLowerCase(java.util.Locale.ROOT)
        .replace('_', ' ');
  }
}
