package dev.outpost.agent.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The agent's own meters, named in one place. They live in Micrometer's global registry, so
 * the code that counts needs no handle; {@code run} adds the Prometheus registry that
 * {@code /metrics} serves. Labels are low-cardinality by construction: a job type, an outcome,
 * a stage, a gRPC status code. Never a job id, an agent name or a path.
 */
public final class AgentMetrics {
  /** Log bytes read from the job's output and not yet acknowledged, over all running jobs. */
  private static final AtomicLong UNACKED_LOG_BYTES = new AtomicLong();

  static {
    Metrics.globalRegistry.gauge("outpost.log.unacknowledged.bytes", UNACKED_LOG_BYTES);
  }

  private AgentMetrics() {}

  /** A job taken from the control plane (or taken back after a restart, {@code resumed}). */
  public static void jobAccepted(String type, boolean resumed) {
    Counter.builder("outpost.jobs.accepted").description("Jobs this agent took")
        .tag("type", type).tag("resumed", Boolean.toString(resumed))
        .register(Metrics.globalRegistry).increment();
  }

  /**
   * A job's result delivered: {@code outcome} is succeeded, failed, cancelled or interrupted;
   * the duration runs from the agent's acceptance to the acknowledgement.
   */
  public static void jobFinished(String type, String outcome, Duration duration) {
    Counter.builder("outpost.jobs.finished").description("Jobs whose result was delivered")
        .tag("type", type).tag("outcome", outcome)
        .register(Metrics.globalRegistry).increment();
    Timer.builder("outpost.job.duration").description("From acceptance to delivered result")
        .tag("type", type).tag("outcome", outcome).publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(100)).maximumExpectedValue(Duration.ofHours(6))
        .register(Metrics.globalRegistry).record(duration);
  }

  /** One Terraform command (init, plan, apply, show, ...) from launch to exit. */
  public static void stageFinished(String stage, Duration duration) {
    Timer.builder("outpost.stage.duration").description("One Terraform command, launch to exit")
        .tag("stage", stage).publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(50)).maximumExpectedValue(Duration.ofHours(6))
        .register(Metrics.globalRegistry).record(duration);
  }

  /** From submission to lease, both on the control plane's clock. */
  public static void dispatchWait(Duration wait) {
    Timer.builder("outpost.dispatch.wait").description("Control plane: submitted to leased")
        .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofHours(1))
        .register(Metrics.globalRegistry).record(wait.isNegative() ? Duration.ZERO : wait);
  }

  /** Log entries the control plane acknowledged, and their bytes. */
  public static void logSent(long lines, long bytes) {
    Counter.builder("outpost.log.lines.sent").register(Metrics.globalRegistry).increment(lines);
    Counter.builder("outpost.log.bytes.sent")
        .register(Metrics.globalRegistry).increment(bytes);
  }

  public static void logUnacknowledged(long delta) {
    UNACKED_LOG_BYTES.addAndGet(delta);
  }

  /** A session to the control plane lost and about to be opened again. */
  public static void reconnect() {
    Counter.builder("outpost.reconnects").description("Sessions lost and opened again")
        .register(Metrics.globalRegistry).increment();
  }

  /** A failed call to the control plane, by gRPC status code. */
  public static void rpcError(io.grpc.Status.Code code) {
    Counter.builder("outpost.rpc.errors").tag("code", code.name().toLowerCase(Locale.ROOT))
        .register(Metrics.globalRegistry).increment();
  }

  /** The sandbox failed: at the start probe, or launching a job's command. */
  public static void sandboxFailure(String where) {
    Counter.builder("outpost.sandbox.failures").tag("where", where)
        .register(Metrics.globalRegistry).increment();
  }

  /** A job stopped because its log reached {@code --job-log-limit}. */
  public static void logLimitReached() {
    Counter.builder("outpost.job.log.limit.reached")
        .description("Jobs stopped because their log reached --job-log-limit")
        .register(Metrics.globalRegistry).increment();
  }

  /** Lower-case names as labels: JOB_TYPE_APPLY becomes apply. */
  public static String label(Enum<?> value, String prefix) {
    return value.name().replaceFirst("^" + prefix, "").toLowerCase(Locale.ROOT);
  }
}
