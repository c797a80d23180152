package dev.outpost.agent.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.logs.LogJournal;
import dev.outpost.agent.logs.LogPipeline;
import dev.outpost.agent.logs.Redactor;
import dev.outpost.agent.terraform.Terraform;
import dev.outpost.agent.terraform.TerraformEnvironment;
import dev.outpost.agent.terraform.TerraformRun;
import dev.outpost.agent.spool.JobSpool;
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
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Runs one job from assignment to acknowledged result: records the job in the state directory,
 * prepares the job directory, runs the Terraform stages in the sandbox while the log pipeline
 * streams their output, spools the result and delivers it (see {@link ResultReporter}). The
 * same runner resumes a job an earlier agent process accepted and did not finish. Cancellation
 * may arrive from any thread at any time.
 */
public final class JobRunner implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(JobRunner.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final JobAssignment assignment;
  private final JobSettings settings;
  private final JobCalls calls;
  private final Runnable onFinished;
  private final java.util.concurrent.atomic.AtomicBoolean finished =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final Redactor redactor;
  private volatile String cancelReason;
  private volatile boolean delivering;
  private volatile StageRunner stages;
  private Path varFile;
  /** The record an earlier agent process left, when this runner resumes its job. */
  private final JobSpool resumed;

  /** A job just assigned. */
  public JobRunner(JobAssignment assignment, JobSettings settings, JobCalls calls,
      Runnable onFinished) {
    this(assignment, settings, calls, onFinished, null);
  }

  /** A job an earlier agent process accepted and did not finish (its record in the state dir). */
  public JobRunner(JobSpool resumed, JobSettings settings, JobCalls calls, Runnable onFinished) {
    this(resumed.assignment(), settings, calls, onFinished, resumed);
  }

  private JobRunner(JobAssignment assignment, JobSettings settings, JobCalls calls,
      Runnable onFinished, JobSpool resumed) {
    this.resumed = resumed;
    this.assignment = assignment;
    this.settings = settings;
    this.calls = calls;
    this.onFinished = onFinished;
    List<String> secrets = new ArrayList<>();
    assignment.getVariablesList().stream().filter(Variable::getSensitive)
        .forEach(v -> secrets.add(v.getValue()));
    // Credentials the operator grants jobs are secrets too: they must not reach the log.
    settings.passEnv().stream().map(System::getenv).filter(java.util.Objects::nonNull)
        .forEach(secrets::add);
    this.redactor = new Redactor(secrets);
  }

  /** True once Terraform has ended and only the result is being delivered. */
  public boolean delivering() {
    return delivering;
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
    synchronized (this) {
      if (cancelReason == null) {
        cancelReason = reason;
      }
    }
    StageRunner runner = stages;
    if (runner != null) {
      runner.cancel(reason);
    }
  }

  @Override
  public void run() {
    MDC.put("job", jobId());
    long began = System.nanoTime();
    JobSpool spool = resumed;
    JobDirectory dir = null;
    try {
      if (spool == null) {
        spool = JobSpool.create(settings.stateDir(), assignment);
      }
      try (LogPipeline pipeline = new LogPipeline(jobId(), redactor, calls::appendLogs,
          settings.clock(), spool.journal(), resumePoint(spool), settings.logReaders())) {
        ResultReporter reporter = new ResultReporter(assignment, settings, calls, pipeline);
        Optional<JobSpool.SpooledResult> spooled = resumed == null ? Optional.empty()
            : spool.result();
        JobSpool.SpooledResult result;
        if (spooled.isPresent()) {
          // Finished before the restart: send the rest of its log, then the result as spooled.
          dir = existingDirectory();
          readRest(pipeline, dir);
          result = spooled.get();
        } else {
          Execution done = resumed == null ? execute(pipeline) : resume(pipeline);
          dir = done.dir;
          result = reporter.spool(done.outcome, done.dir, done.result, spool);
        }
        delivering = true;
        ResultReporter.Delivery delivery = reporter.deliver(result);
        if (delivery == ResultReporter.Delivery.ACKNOWLEDGED) {
          dev.outpost.agent.ops.AgentMetrics.jobFinished(typeLabel(),
              dev.outpost.agent.ops.AgentMetrics.label(result.request().getOutcome(),
                  "JOB_OUTCOME_"), java.time.Duration.ofNanos(System.nanoTime() - began));
          // The control plane counts the slot free once it has the result, and may assign the
          // next job at once: free it here too, before the directories are removed.
          finish();
          if (dir != null) {
            dir.delete();
          }
          spool.delete();
        } else if (delivery == ResultReporter.Delivery.REFUSED) {
          log.error("job {}: the result is kept in {} and the job directory in {}", jobId(),
              spool.setAside(), dir == null ? "(none)" : dir.root());
        }
      }
    } catch (Exception e) {
      log.error("job {}: could not deliver its result; its record {} and job directory are "
          + "kept: {}", jobId(), spool, redactor.redact(e.toString()));
    } finally {
      MDC.remove("job");
      finish();
    }
  }

  /** What running the job's commands left: the outcome and what the result is made from. */
  private record Execution(JobOutcome outcome, JobDirectory dir, JobResult result) {}

  /** A new job: its directory, its source, its commands. */
  private Execution execute(LogPipeline pipeline) {
    JobDirectory dir = null;
    JobResult result = new JobResult();
    JobOutcome outcome;
    try {
      StageRunner runner = stageRunner(pipeline);
      requireSpoolRoom(pipeline);
      requireFreeDisk();
      dir = JobDirectory.create(settings.workDir(), jobId());
      Terraform terraform = prepare(dir, pipeline);
      if (Payloads.isPresent(assignment.getSavedPlan())) {
        download(PayloadKind.PAYLOAD_KIND_SAVED_PLAN, assignment.getSavedPlan(), savedPlan(dir));
      }
      outcome = runWorkflow(terraform, dir, runner, result);
    } catch (Exception e) {
      outcome = failedBetweenRuns(e);
    }
    return new Execution(outcome, dir, result);
  }

  /**
   * A job an earlier agent process left running: the workflow runs again, re-attached to the
   * commands that process started (a running one is waited for, an ended one's status read)
   * and reading their output on from where the control plane's log ends; later commands run
   * as usual. Only a command gone without an exit status makes the job interrupted.
   */
  private Execution resume(LogPipeline pipeline) {
    JobDirectory dir = existingDirectory();
    JobResult result = new JobResult();
    JobOutcome outcome;
    try {
      List<TerraformRun> runs = dir == null ? List.of() : Terraform.recordedRuns(dir.root());
      if (runs.isEmpty()) {
        pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_WARN, "the agent process "
            + "restarted while preparing this job, before Terraform ran");
        return new Execution(new JobOutcome.Interrupted("the agent process restarted while "
            + "preparing the job; no Terraform command had started"), dir, result);
      }
      TerraformRun last = runs.get(runs.size() - 1);
      pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_WARN, "the agent process "
          + "restarted; resuming the job at terraform " + last.stage() + " ("
          + last.exitCode().map(c -> "ended with " + c)
              .orElse(last.process().isAlive() ? "still running" : "gone") + ")");
      StageRunner runner = stageRunner(pipeline);
      runner.replay(runs);
      Terraform terraform = terraform(dir);
      varFile = dir.controlDir().resolve(JobDirectory.VARIABLES_FILE);
      outcome = runWorkflow(terraform, dir, runner, result);
    } catch (Exception e) {
      outcome = failedBetweenRuns(e);
    }
    return new Execution(outcome, dir, result);
  }

  /** The job type's commands; an apply of a saved plan uses the one downloaded with the job. */
  private JobOutcome runWorkflow(Terraform terraform, JobDirectory dir, StageRunner runner,
      JobResult result) throws Exception {
    Path savedPlan = Payloads.isPresent(assignment.getSavedPlan()) ? savedPlan(dir) : null;
    return new Workflows(terraform, dir, runner, result, varFile)
        .run(assignment.getType(), savedPlan);
  }

  private JobOutcome failedBetweenRuns(Exception e) {
    log.warn("job {}: failed before or between Terraform runs: {}", jobId(),
        redactor.redact(e.toString()));
    return new JobOutcome.Failed(redactor.redact(String.valueOf(e.getMessage())), -1);
  }

  private StageRunner stageRunner(LogPipeline pipeline) {
    StageRunner runner = new StageRunner(jobId(), pipeline, settings.logReaders(), redactor,
        settings.cancelGrace(),
        settings.stageTimeout(), new DiskBudget(
            JobDirectory.resolve(settings.workDir(), jobId()), settings.diskBudgetBytes()));
    runner.limitLog(settings.logLimitBytes());
    synchronized (this) {
      stages = runner;
      if (cancelReason != null) {
        runner.cancel(cancelReason);
      }
    }
    return runner;
  }

  private Path savedPlan(JobDirectory dir) {
    return dir.controlDir().resolve("saved.tfplan");
  }

  private JobDirectory existingDirectory() {
    try {
      return JobDirectory.open(settings.workDir(), jobId());
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * Where this job's log goes on: the start for a new job; for a resumed one, the checkpoint
   * that ends at what the control plane has stored (asked with an empty batch, retried until
   * it answers: the job's Terraform runs on meanwhile).
   */
  private LogJournal.Checkpoint resumePoint(JobSpool spool) throws Exception {
    if (resumed == null) {
      return LogJournal.Checkpoint.START;
    }
    dev.outpost.agent.daemon.Backoff backoff = new dev.outpost.agent.daemon.Backoff(
        Duration.ofMillis(100), Duration.ofSeconds(10));
    long acked;
    while (true) {
      try {
        acked = calls.appendLogs(List.of());
        break;
      } catch (Exception e) {
        dev.outpost.agent.daemon.Failure f = dev.outpost.agent.daemon.Failure.of(e);
        if (f.kind() == dev.outpost.agent.daemon.Failure.Kind.DENIED
            || f.kind() == dev.outpost.agent.daemon.Failure.Kind.REFUSED) {
          // The control plane will not take this job any more: its Terraform is still seen to
          // its end, and the result is kept aside when the control plane refuses it too.
          log.warn("job {}: the control plane refuses the job's log ({}); finishing it for the"
              + " record", jobId(), f.message());
          acked = Long.MAX_VALUE;
          break;
        }
        if (settings.lifecycle().deliveryAbandoned()) {
          throw e;
        }
        log.info("job {}: waiting for the control plane to resume the job's log: {}", jobId(),
            f.message());
        Thread.sleep(backoff.next().toMillis());
      }
    }
    try (LogJournal journal = spool.journal()) {
      LogJournal.Checkpoint at = journal.resumeAt(acked);
      if (acked != Long.MAX_VALUE && at.lastSeq() != acked) {
        log.warn("job {}: the control plane has the log up to {} but the journal only up to "
            + "{}; resuming there", jobId(), acked, at.lastSeq());
      }
      log.info("job {}: resuming its log after sequence {}", jobId(), at.lastSeq());
      return at;
    }
  }

  /** Reads what is left of every command's output (a job that finished before the restart). */
  private void readRest(LogPipeline pipeline, JobDirectory dir) throws Exception {
    if (dir != null) {
      for (TerraformRun run : Terraform.recordedRuns(dir.root())) {
        Stage stage = switch (run.stage()) {
          case "init" -> Stage.STAGE_INIT;
          case "plan" -> Stage.STAGE_PLAN;
          case "apply" -> assignment.getType().hasDestroy() ? Stage.STAGE_DESTROY
              : Stage.STAGE_APPLY;
          default -> Stage.STAGE_SHOW;
        };
        // show -json writes a secret payload to stdout: only its stderr is log.
        pipeline.follow(stage, stage == Stage.STAGE_SHOW ? null : run.stdoutFile(),
            run.stderrFile(), () -> true);
      }
    }
    pipeline.readAgentMessages();
  }

  /** Frees the job's slot, once. */
  private void finish() {
    if (finished.compareAndSet(false, true)) {
      onFinished.run();
    }
  }

  private Terraform prepare(JobDirectory dir, LogPipeline pipeline) throws Exception {
    pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_INFO, "job " + jobId() + ": "
        + jobType() + " on workspace " + assignment.getWorkspace().getOrg() + "/"
        + assignment.getWorkspace().getName() + " with " + settings.terraformVersion().getName()
        + " " + settings.terraformVersion().getVersion() + " in sandbox "
        + settings.sandbox().name());
    if (settings.sandbox().name().equals("none")) {
      pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_WARN, "this agent runs jobs "
          + "UNCONFINED (--sandbox=none): Terraform and its providers run with the agent's "
          + "privileges, and no sandbox limit or network policy applies");
    }
    pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_INFO, "network " + network()
        + (!network().equals(requestedNetwork()) ? " (the job asked for " + requestedNetwork()
            + "; the agent allows none)" : "")
        + "; stage timeout " + (settings.stageTimeout().isZero() ? "none"
            : settings.stageTimeout().toString())
        + "; job disk budget " + (settings.diskBudgetBytes() == 0 ? "none"
            : (settings.diskBudgetBytes() >> 20) + " MiB")
        + "; granted files " + settings.confinement().grantedFiles().size()
        + ", granted variables " + settings.passEnv().size());
    long shortSecrets = Redactor.tooShort(assignment.getVariablesList().stream()
        .filter(Variable::getSensitive).map(Variable::getValue).toList());
    if (shortSecrets > 0) {
      pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_WARN, shortSecrets
          + " sensitive value(s) shorter than " + Redactor.MIN_SECRET_LENGTH
          + " characters cannot be masked in the log");
    }
    Path archive = dir.controlDir().resolve("source.tar.gz");
    if (assignment.getSourceInline().isEmpty()) {
      download(PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE, assignment.getSource(), archive);
    } else {
      // A small archive came with the assignment; it is checked like a downloaded one.
      byte[] inline = assignment.getSourceInline().toByteArray();
      Payloads.verify(assignment.getSource(), inline);
      Files.write(archive, inline);
    }
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
    varFile = dir.writeVariables(vars);
    return terraform(dir);
  }

  /** How this job runs Terraform: its directory, environment, network and confinement. */
  private Terraform terraform(JobDirectory dir) throws IOException {
    Map<String, String> env = TerraformEnvironment.forJob(dir.root())
        .providerMirrors(settings.providerMirrors())
        .passThrough(settings.passEnv(), System.getenv()).build();
    return new Terraform(settings.terraform(), dir.sourceDir(), dir.root(), settings.sandbox(),
        env, network().equals("full"))
        .withProviders(settings.providerCache(), settings.providerMirrors())
        .confined(settings.confinement());
  }

  /** What the job asked for: "none", or "full" (also when it did not say). */
  private String requestedNetwork() {
    return "none".equals(assignment.getNetwork()) ? "none" : "full";
  }

  /** The job's network within the operator's ceiling: a job can narrow it, never widen it. */
  private String network() {
    return settings.networkAllowed() ? requestedNetwork() : "none";
  }

  /**
   * The spool must keep room for this job's result: a job starts only while
   * {@link JobSpool#RESULT_RESERVE} remain in the budget, and a warning goes out at 80%.
   */
  private void requireSpoolRoom(LogPipeline pipeline) throws IOException {
    long budget = settings.spoolBudgetBytes();
    if (budget == 0) {
      return;
    }
    long used = JobSpool.usage(settings.stateDir());
    String usage = "the agent's job records in " + settings.stateDir() + " hold "
        + (used >> 20) + " MiB of their " + dev.outpost.agent.ops.ByteSize.format(budget)
        + " budget (--spool-budget)";
    if (used + JobSpool.RESULT_RESERVE > budget) {
      throw new IOException(usage + ", less than the 64 MiB a result needs: results wait for "
          + "delivery or were refused (see " + settings.stateDir().resolve("refused")
          + "); the job was not run");
    }
    if (used >= budget / 10 * 8) {
      log.warn("job {}: {}", jobId(), usage);
      pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_WARN, usage
          + "; at the budget jobs are refused");
    }
  }

  /** A job that starts on a full disk would end with a half-written state: refuse it first. */
  private void requireFreeDisk() throws java.io.IOException {
    long free = Files.getFileStore(settings.workDir()).getUsableSpace();
    if (free < settings.minFreeDiskBytes()) {
      throw new java.io.IOException("only " + (free >> 20) + " MiB are free in the work "
          + "directory " + settings.workDir() + "; the agent needs at least "
          + (settings.minFreeDiskBytes() >> 20) + " MiB (--min-free-disk) to start a job");
    }
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
    Payloads.verify(expected, Files.readAllBytes(target));
  }

  /** The job's type as a metric label: apply, plan, destroy, template_import. */
  public String typeLabel() {
    return assignment.getType().getTypeCase().name().toLowerCase(java.util.Locale.ROOT);
  }

  private String jobType() {
    return assignment.getType().getTypeCase().name().toLowerCase(java.util.Locale.ROOT)
        .replace('_', ' ');
  }
}
