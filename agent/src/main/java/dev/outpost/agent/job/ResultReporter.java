package dev.outpost.agent.job;

import dev.outpost.agent.daemon.Backoff;
import dev.outpost.agent.daemon.Failure;
import dev.outpost.agent.logs.LogPipeline;
import dev.outpost.agent.spool.JobSpool;
import dev.outpost.agent.terraform.StateReader;
import dev.outpost.agent.terraform.TerraformOutput;
import dev.outpost.agent.terraform.TerraformResource;
import dev.outpost.agent.terraform.TerraformState;
import dev.outpost.agent.workspace.JobDirectory;
import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.CompleteJobResponse;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.Output;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.Resource;
import dev.outpost.proto.v1.Stage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A job's result: the state Terraform left (whatever the outcome), outputs and resources read
 * from the state file; written to the job's spool first, then delivered from there.
 */
final class ResultReporter {
  private static final Logger log = LoggerFactory.getLogger(ResultReporter.class);

  private final JobAssignment assignment;
  private final JobSettings settings;
  private final JobCalls calls;
  private final LogPipeline pipeline;

  ResultReporter(JobAssignment assignment, JobSettings settings, JobCalls calls,
      LogPipeline pipeline) {
    this.assignment = assignment;
    this.settings = settings;
    this.calls = calls;
    this.pipeline = pipeline;
  }

  /** How delivering a result ended. */
  enum Delivery {
    /** The control plane has it: the job's records may go. */
    ACKNOWLEDGED,
    /** Refused for good (stale lease, bad request): kept aside, never resent. */
    REFUSED,
    /** The agent is exiting without delivering (auth failure): the spool keeps it. */
    ABANDONED
  }

  /**
   * Builds the final result (state, outputs and resources read from the state file),
   * writes the job's last log message and forces the result to the spool: from here on a
   * restarted agent delivers it as it is.
   */
  JobSpool.SpooledResult spool(JobOutcome outcome, JobDirectory dir, JobResult produced,
      JobSpool spool) throws Exception {
    CompleteJobRequest.Builder result = CompleteJobRequest.newBuilder()
        .setLease(assignment.getLease()).setOutcome(outcome.wire())
        .setErrorMessage(outcome.message()).setExitCode(outcome.exitCode())
        .setTerraform(settings.terraformVersion())
        .addAllResourceChanges(produced.resourceChanges);
    if (produced.changes != null) {
      result.setChanges(produced.changes);
    }
    if (produced.template != null) {
      result.setTemplate(produced.template);
    }
    Map<PayloadKind, Path> payloads = new EnumMap<>(PayloadKind.class);
    Path state = dir == null ? null : dir.stateFile();
    if (state != null && Files.isRegularFile(state) && Files.size(state) > 0) {
      payloads.put(PayloadKind.PAYLOAD_KIND_STATE, state);
      describeState(state, result);
    }
    if (produced.planFile != null && Files.exists(produced.planFile)) {
      payloads.put(PayloadKind.PAYLOAD_KIND_PLAN_FILE, produced.planFile);
    }
    if (produced.planJson != null && Files.exists(produced.planJson)) {
      payloads.put(PayloadKind.PAYLOAD_KIND_PLAN_JSON, produced.planJson);
    }
    // Once only: an agent process that died after writing it must not make it appear twice.
    pipeline.agentMessageOnce(Stage.STAGE_SETUP,
        outcome instanceof JobOutcome.Succeeded ? LogLevel.LOG_LEVEL_INFO : LogLevel.LOG_LEVEL_ERROR,
        "job " + assignment.getLease().getJobId() + " "
            + outcome.wire().name().replace("JOB_OUTCOME_", "").toLowerCase(java.util.Locale.ROOT)
            + (outcome.message().isEmpty() ? "" : ": " + outcome.message()));
    result.setLastLogSeq(pipeline.lastSeq()).setRedactedCount(pipeline.redactedCount());
    return spool.writeResult(result.build(), payloads);
  }

  /**
   * Delivers a spooled result: the payloads while the log's last entries go out, then, once
   * the whole log is acknowledged, CompleteJob (so a finished job's log is complete when the
   * control plane marks it finished); repeated on retryable failures until acknowledged.
   */
  Delivery deliver(JobSpool.SpooledResult spooled) throws Exception {
    String jobId = assignment.getLease().getJobId();
    pipeline.drain();
    CompleteJobRequest.Builder result = spooled.request().toBuilder();
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(30));
    boolean uploaded = false;
    while (true) {
      try {
        if (!uploaded) {
          for (Map.Entry<PayloadKind, Path> p : spooled.payloads().entrySet()) {
            PayloadRef ref = calls.upload(p.getKey(), p.getValue());
            switch (p.getKey()) {
              case PAYLOAD_KIND_STATE -> result.setState(ref);
              case PAYLOAD_KIND_PLAN_FILE -> result.setPlanFile(ref);
              case PAYLOAD_KIND_PLAN_JSON -> result.setPlanJson(ref);
              default -> log.warn("job {}: spooled payload {} has no place in the result", jobId,
                  p.getKey());
            }
          }
          uploaded = true;
        }
        while (!pipeline.awaitDelivered(Duration.ofSeconds(1))) {
          if (settings.lifecycle().deliveryAbandoned()) {
            return Delivery.ABANDONED;
          }
          String problem = pipeline.deliveryProblem();
          log.info("job {}: waiting to deliver its log before the result ({})", jobId,
              problem == null ? "not all acknowledged yet" : problem);
        }
        CompleteJobResponse response = calls.complete(result.build());
        if (response.getStateKeptAside()) {
          log.warn("job {}: the control plane kept the state aside instead of adopting it",
              jobId);
        }
        log.info("job {}: result acknowledged ({})", jobId, result.getOutcome());
        return response.getAcknowledged() ? Delivery.ACKNOWLEDGED : Delivery.REFUSED;
      } catch (InterruptedException e) {
        throw e;
      } catch (Exception e) {
        uploaded = false; // a control plane that failed meanwhile may have lost them
        Failure f = Failure.of(e);
        // An auth failure may be fixed by new credentials while the agent waits for them;
        // a refusal of this result (stale lease, bad request) will not change.
        if (f.kind() == Failure.Kind.REFUSED || f.kind() == Failure.Kind.DENIED
            || f.kind() == Failure.Kind.PROTOCOL) {
          log.error("job {}: the control plane refused the result: {}", jobId, f.message());
          return Delivery.REFUSED;
        }
        if (settings.lifecycle().deliveryAbandoned()) {
          return Delivery.ABANDONED;
        }
        log.warn("job {}: delivering the result failed, will retry: {}", jobId, f.message());
        Thread.sleep(backoff.next().toMillis());
      }
    }
  }

  /** Outputs and resources from the state file; a state it cannot read is a warning in the log. */
  private void describeState(Path stateFile, CompleteJobRequest.Builder result) {
    try {
      TerraformState state = StateReader.readStateFile(stateFile);
      for (TerraformOutput o : state.outputs()) {
        result.addOutputs(Output.newBuilder().setName(o.name()).setValueJson(o.valueJson())
            .setSensitive(o.sensitive()).setTypeJson(o.typeJson()));
      }
      for (TerraformResource r : state.resources()) {
        result.addResources(Resource.newBuilder().setAddress(r.address()).setType(r.type())
            .setName(r.name()).setProvider(r.provider()).setMode(r.mode()));
      }
    } catch (IOException e) {
      pipeline.agentMessage(Stage.STAGE_SETUP, LogLevel.LOG_LEVEL_WARN,
          "could not read outputs and resources from the state: " + e.getMessage());
    }
  }
}
