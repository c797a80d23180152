package dev.outpost.agent.daemon;

import dev.outpost.agent.job.JobRunner;
import dev.outpost.agent.job.JobSettings;
import dev.outpost.agent.ops.AgentMetrics;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.HeartbeatRequest;
import dev.outpost.proto.v1.HeartbeatResponse;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.LeaseRef;
import dev.outpost.proto.v1.LeaseStatus;
import dev.outpost.proto.v1.TerraformBinary;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The agent's job slots: running jobs by id, their heartbeats, and cancellation. */
final class JobSlots {
  private static final Logger log = LoggerFactory.getLogger(JobSlots.class);

  private final int max;
  private final JobSettings settings;
  private final ControlPlaneClient client;
  private final IntConsumer announceFree;
  private final Map<String, JobRunner> running = new ConcurrentHashMap<>();
  private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "job-worker");
    t.setDaemon(true);
    return t;
  });
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "heartbeat");
    t.setDaemon(true);
    return t;
  });
  private ScheduledFuture<?> heartbeat;
  private volatile boolean draining;

  JobSlots(int max, JobSettings settings, ControlPlaneClient client, IntConsumer announceFree) {
    this.max = max;
    this.settings = settings;
    this.client = client;
    this.announceFree = announceFree;
  }

  /** Free slots as reported to the control plane: none while draining. */
  int free() {
    return draining ? 0 : Math.max(0, max - running.size());
  }

  /** Takes no new jobs from now on (an assignment already on its way still runs). */
  void drain() {
    draining = true;
  }

  /** Waits until no job runs here any more; false if the timeout passed first. */
  boolean awaitIdle(Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!running.isEmpty()) {
      if (System.nanoTime() >= end) {
        return false;
      }
      Thread.sleep(Math.min(100, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
    }
    return true;
  }

  TerraformBinary terraformVersion() {
    return settings.terraformVersion();
  }

  List<LeaseRef> leases() {
    return running.values().stream().map(JobRunner::lease).toList();
  }

  synchronized void start(JobAssignment assignment) {
    String id = assignment.getLease().getJobId();
    if (running.containsKey(id)) {
      log.info("job {} is already running here; ignoring the repeated assignment", id);
      return;
    }
    // A job whose Terraform has ended and whose result is on its way no longer holds its slot:
    // the control plane frees the slot as it stores the result, and its next assignment can
    // arrive before the agent has seen the acknowledgement.
    long busy = running.values().stream().filter(r -> !r.delivering()).count();
    if (busy >= max) {
      // The control plane never assigns beyond the free slots reported; if it does anyway,
      // the lease expires and the job is reported interrupted rather than run half-prepared.
      log.error("job {} assigned with no free slot; not started", id);
      return;
    }
    JobRunner runner = new JobRunner(assignment, settings,
        new LeaseCalls(client, assignment.getLease()), () -> finished(id));
    running.put(id, runner);
    AgentMetrics.jobAccepted(runner.typeLabel(), false);
    if (assignment.hasSubmittedAt() && assignment.hasLeasedAt()) {
      AgentMetrics.dispatchWait(Duration.between(Times.instant(assignment.getSubmittedAt()),
          Times.instant(assignment.getLeasedAt())));
    }
    log.info("job {} accepted ({} of {} slots busy)", id, busy + 1, max);
    workers.execute(runner);
  }

  /**
   * Takes back a job an earlier agent process accepted and did not finish: it holds a slot and
   * its lease goes in the next Hello, so the control plane keeps it with this agent.
   */
  synchronized void resume(dev.outpost.agent.spool.JobSpool spool) {
    String id = spool.jobId();
    LeaseRef lease = spool.assignment().getLease();
    JobRunner runner = new JobRunner(spool, settings, new LeaseCalls(client, lease),
        () -> finished(id));
    running.put(id, runner);
    AgentMetrics.jobAccepted(runner.typeLabel(), true);
    log.info("job {} resumed from {} (left by an earlier agent process)", id, spool.dir());
    workers.execute(runner);
  }

  private void finished(String id) {
    running.remove(id);
    announceFree.accept(free());
  }

  void cancel(LeaseRef lease, String reason) {
    JobRunner runner = running.get(lease.getJobId());
    if (runner != null && runner.lease().getLeaseId().equals(lease.getLeaseId())) {
      runner.cancel(reason);
    }
  }

  synchronized void startHeartbeat(Duration interval) {
    if (heartbeat != null) {
      heartbeat.cancel(false);
    }
    long ms = Math.max(200, interval.toMillis());
    heartbeat = timer.scheduleWithFixedDelay(this::beat, ms, ms, TimeUnit.MILLISECONDS);
  }

  private void beat() {
    List<LeaseRef> leases = leases();
    if (leases.isEmpty()) {
      return;
    }
    try {
      HeartbeatResponse response = client.blocking(ControlPlaneClient.CALL_DEADLINE)
          .heartbeat(HeartbeatRequest.newBuilder().addAllLeases(leases).build());
      for (LeaseStatus status : response.getLeasesList()) {
        switch (status.getState()) {
          case STATE_CANCEL_REQUESTED -> cancel(status.getLease(), "cancel requested");
          case STATE_EXPIRED, STATE_UNKNOWN -> cancel(status.getLease(),
              "the control plane no longer holds this job's lease (" + status.getState() + ")");
          default -> { }
        }
      }
    } catch (RuntimeException e) {
      log.warn("heartbeat failed: {}", Failure.of(e).message());
    }
  }

  /** Interrupts every running job; their results are delivered when the agent can again. */
  void interruptAll(String reason) {
    running.values().forEach(r -> r.cancel(reason));
  }

  int running() {
    return running.size();
  }

  /** Interrupts every running job and waits (bounded) for their results to be delivered. */
  void stopAll(String reason) throws InterruptedException {
    running.values().forEach(r -> r.cancel(reason));
    workers.shutdown();
    // Heartbeats go on while jobs wind down: a lease that lapsed now would free the workspace
    // for another job while this Terraform still writes its state.
    if (!workers.awaitTermination(settings.cancelGrace().toMillis() + 180_000,
        TimeUnit.MILLISECONDS)) {
      log.warn("{} job(s) still delivering at exit; their directories are kept", running.size());
    }
    timer.shutdownNow();
  }
}
