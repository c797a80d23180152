package dev.outpost.stub.server;

import com.google.protobuf.Timestamp;
import dev.outpost.proto.Payloads;
import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.AuditEvent;
import dev.outpost.proto.v1.CancelJob;
import dev.outpost.proto.v1.Hello;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.LeaseRef;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.SessionClosing;
import dev.outpost.proto.v1.Welcome;
import dev.outpost.stub.store.JobRecord;
import dev.outpost.stub.store.Store;
import dev.outpost.stub.store.WorkspaceRecord;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane's scheduling core: agent sessions, pushed dispatch with org and tag routing,
 * one job per workspace, leases, and cancellation. The gRPC services are thin adapters over it.
 * Every decision that reads and changes jobs and sessions together holds {@code this}.
 */
public final class ControlPlane {
  /**
   * A configuration archive up to this size travels inside the assignment: the job starts
   * without a download's round trip. Larger ones are downloaded in chunks.
   */
  static final int INLINE_SOURCE_BYTES = 256 << 10;

  private static final Logger log = LoggerFactory.getLogger(ControlPlane.class);

  /**
   * Tunables of the control plane; defaults in {@link #defaults()}. {@code certLifetime} is the
   * lifetime of client certificates signed at enrollment.
   */
  public record Settings(String trustDomain, Duration heartbeatInterval, Duration leaseTtl,
      Duration certLifetime) {
    public Settings {
      for (var d : Map.of("heartbeat interval", heartbeatInterval, "lease TTL", leaseTtl,
          "certificate lifetime", certLifetime).entrySet()) {
        if (d.getValue().isNegative() || d.getValue().isZero()) {
          throw new IllegalArgumentException(d.getKey() + " " + d.getValue()
              + " is invalid: it must be positive");
        }
      }
    }

    public static Settings defaults() {
      return new Settings("outpost.local", Duration.ofSeconds(5), Duration.ofSeconds(60),
          Duration.ofHours(24));
    }

    public Settings withCertLifetime(Duration lifetime) {
      return new Settings(trustDomain, heartbeatInterval, leaseTtl, lifetime);
    }
  }

  private final Store store;
  private final Clock clock;
  private final Settings settings;
  private final Map<String, AgentSession> sessions = new ConcurrentHashMap<>();
  /**
   * Jobs leased and not finished, per agent. An agent's free slots are the fewer of what it
   * last reported and what this count leaves, so a report that crossed an assignment in flight
   * can never over-commit it.
   */
  private final Map<String, Integer> held = new ConcurrentHashMap<>();
  /**
   * Ids of the jobs that may still be queued, oldest first, and of those that may still hold a
   * lease: dispatch, lease expiry and reconnects look only at these, not at every job the store
   * ever kept (which made each dispatch cost as much as the whole history, under this lock).
   * A job is added when it becomes queued or leased and dropped when it is seen to be neither
   * any more, so a status change made elsewhere (a cancel, a result) needs no bookkeeping.
   * Guarded by {@code this}.
   */
  private final Set<String> queuedIds = new LinkedHashSet<>();
  private final Set<String> leasedIds = new LinkedHashSet<>();
  private final Object logSignal = new Object();

  public ControlPlane(Store store, Clock clock, Settings settings) {
    this.store = store;
    this.clock = clock;
    this.settings = settings;
    resumeLeases();
  }

  /**
   * After a restart on a durable store: the leases of running jobs count against their agents'
   * slots again, and each gets at least one lease time from now to be renewed, since every
   * agent looked silent while the control plane was down.
   */
  private void resumeLeases() {
    Instant graceUntil = now().plus(settings.leaseTtl());
    for (JobRecord job : store.jobs("")) {
      if (job.view().getStatus() == JobStatus.JOB_STATUS_QUEUED) {
        queuedIds.add(job.id());
      }
      if (job.terminal() || job.leaseId() == null) {
        continue;
      }
      leasedIds.add(job.id());
      held.merge(job.leaseAgentId(), 1, Integer::sum);
      if (job.leaseExpiresAt() == null || job.leaseExpiresAt().isBefore(graceUntil)) {
        store.updateJob(job.id(), j -> j.withLease(j.leaseId(), j.leaseAgentId(), graceUntil));
        log.info("job {}: lease of agent {} resumed until {}", job.id(), job.leaseAgentId(),
            graceUntil);
      }
    }
  }

  public Store store() {
    return store;
  }

  public Settings settings() {
    return settings;
  }

  Instant now() {
    return clock.instant();
  }

  // ---- sessions -------------------------------------------------------------------------

  synchronized AgentSession openSession(Principal principal, Hello hello,
      StreamObserver<ServerMessage> stream) throws StatusException {
    Map<String, String> allowed = store.key(principal.keyId()).orElseThrow().tags();
    Map<String, String> extra = new TreeMap<>();
    hello.getTagsMap().forEach((k, v) -> {
      if (!v.equals(allowed.get(k))) {
        extra.put(k, v);
      }
    });
    if (!extra.isEmpty()) {
      throw Status.PERMISSION_DENIED.withDescription("the agent asks for tags " + extra
          + " that its org key " + principal.keyId() + " does not allow (allowed: "
          + new TreeMap<>(allowed) + ")").asException();
    }
    AgentSession session = new AgentSession(principal, hello, stream);
    List<JobRecord> leasedToAgent = leasedTo(session.agentId());
    held.put(session.agentId(), leasedToAgent.size());
    AgentSession previous = sessions.put(session.agentId(), session);
    if (previous != null) {
      previous.send(ServerMessage.newBuilder().setClosing(SessionClosing.newBuilder()
          .setReason("replaced by a newer session of the same agent")).build());
      previous.end(Status.ABORTED.withDescription("replaced by a newer session"));
    }
    session.send(ServerMessage.newBuilder().setWelcome(Welcome.newBuilder()
        .setProtocolVersion(ProtocolVersion.currentMessage())
        .setAgentId(session.agentId()).setOrg(principal.org()).setSessionId(session.id)
        .setHeartbeatInterval(Times.duration(settings.heartbeatInterval()))
        .setLeaseTtl(Times.duration(settings.leaseTtl()))).build());
    audit("session.opened", principal, "", "session " + session.id + " tags " + session.tags);
    log.info("agent {} connected (session {}, {} free of {} slots, tags {})", session.agentId(),
        session.id, free(session), session.maxJobs, session.tags);
    java.util.Set<String> heldIds = new java.util.HashSet<>();
    hello.getHeldLeasesList().forEach(l -> heldIds.add(l.getLeaseId()));
    for (JobRecord lost : leasedToAgent) {
      if (!heldIds.contains(lost.leaseId())) {
        // Assigned on a session that died before the agent saw it, or forgotten by an agent
        // that restarted: it is not running there. Its state, if any, comes late.
        JobRecord interrupted = store.updateJob(lost.id(), j -> j.withView(j.view().toBuilder()
            .setStatus(JobStatus.JOB_STATUS_INTERRUPTED).setFinishedAt(timestamp(now()))
            .setErrorMessage("agent " + session.agentId() + " reconnected without this job")
            .build())).orElseThrow();
        audit("job.interrupted", principal, lost.id(), "not among the agent's held leases");
        log.warn("job {}: agent {} reconnected without it; marked interrupted", lost.id(),
            session.agentId());
        release(interrupted);
      }
    }
    for (LeaseRef held : hello.getHeldLeasesList()) {
      store.job(held.getJobId()).filter(j -> j.view().getStatus() == JobStatus.JOB_STATUS_CANCELLING
          && held.getLeaseId().equals(j.leaseId()))
          .ifPresent(j -> pushCancel(session, j, "cancel requested while the agent was away"));
    }
    dispatch();
    return session;
  }

  synchronized void closeSession(AgentSession session) {
    session.markClosed();
    if (sessions.remove(session.agentId(), session)) {
      audit("session.closed", session.principal, "", "session " + session.id);
      log.info("agent {} disconnected (session {})", session.agentId(), session.id);
    }
  }

  synchronized void slotsAvailable(AgentSession session, int free) {
    session.freeSlots = Math.max(0, Math.min(session.maxJobs, free));
    dispatch();
  }

  /** Ends every session (server shutdown). */
  synchronized void closeAllSessions(String reason) {
    for (AgentSession s : List.copyOf(sessions.values())) {
      s.send(ServerMessage.newBuilder().setClosing(SessionClosing.newBuilder().setReason(reason))
          .build());
      s.end(Status.UNAVAILABLE.withDescription(reason));
      sessions.remove(s.agentId(), s);
    }
  }

  /**
   * Ends every open session the predicate selects: tells the agent why (SessionClosing), then
   * ends its stream with {@code status}. Used when a key or certificate is revoked or expires.
   */
  synchronized int endSessions(Predicate<AgentSession> which, Status status) {
    int ended = 0;
    for (AgentSession s : List.copyOf(sessions.values())) {
      if (!which.test(s)) {
        continue;
      }
      s.send(ServerMessage.newBuilder().setClosing(SessionClosing.newBuilder()
          .setReason(status.getDescription())).build());
      s.end(status);
      if (sessions.remove(s.agentId(), s)) {
        audit("session.closed", s.principal, "", "session " + s.id + ": "
            + status.getDescription());
        log.info("ended session {} of agent {}: {}", s.id, s.agentId(), status.getDescription());
      }
      ended++;
    }
    return ended;
  }

  List<AgentSession> sessions() {
    return List.copyOf(sessions.values());
  }

  // ---- dispatch -------------------------------------------------------------------------

  /** Queues a job the store holds now, and dispatches. */
  synchronized void enqueue(String jobId) {
    queuedIds.add(jobId);
    dispatch();
  }

  /** Leases every runnable job to a matching agent with a free slot, oldest job first. */
  synchronized void dispatch() {
    for (Iterator<String> ids = queuedIds.iterator(); ids.hasNext(); ) {
      JobRecord job = store.job(ids.next()).orElse(null);
      if (job == null || job.view().getStatus() != JobStatus.JOB_STATUS_QUEUED) {
        ids.remove();
        continue;
      }
      WorkspaceRecord ws = store.workspace(job.view().getWorkspace());
      String pending;
      if (!ws.activeJobId().isEmpty() && !ws.activeJobId().equals(job.id())) {
        pending = "waiting for job " + ws.activeJobId() + " on the same workspace";
      } else {
        // A plain loop, cheapest test first: it runs over every session for every queued job.
        String org = job.view().getWorkspace().getOrg();
        Set<Map.Entry<String, String>> wanted = job.view().getTagsMap().entrySet();
        List<AgentSession> matching = new ArrayList<>();
        for (AgentSession s : sessions.values()) {
          if (s.principal.org().equals(org) && s.isOpen()
              && (wanted.isEmpty() || s.tags.entrySet().containsAll(wanted))) {
            matching.add(s);
          }
        }
        String constraint = job.view().getTerraformVersionConstraint();
        if (!constraint.isEmpty() && !matching.isEmpty()) {
          VersionConstraint allowed = VersionConstraint.parse(constraint);
          List<AgentSession> versioned = matching.stream()
              .filter(s -> allowed.allows(s.hello.getTerraform().getVersion())).toList();
          if (versioned.isEmpty()) {
            String reason = "no connected agent runs a Terraform version satisfying \""
                + constraint + "\"";
            if (!reason.equals(job.view().getPendingReason())) {
              store.updateJob(job.id(),
                  j -> j.withView(j.view().toBuilder().setPendingReason(reason).build()));
            }
            continue;
          }
          matching = versioned;
        }
        // The agent with the most free slots (the first of equals); one pass, since this runs
        // for every queued job over every session, under this lock.
        AgentSession freest = null;
        int mostFree = 0;
        for (AgentSession s : matching) {
          int free = free(s);
          if (free > mostFree) {
            freest = s;
            mostFree = free;
          }
        }
        if (freest != null && lease(job, freest)) {
          ids.remove();
          continue;
        }
        pending = matching.isEmpty()
            ? "no connected agent of org " + job.view().getWorkspace().getOrg()
                + " has the job's tags " + new TreeMap<>(job.view().getTagsMap())
            : "all " + matching.size() + " matching agent(s) are busy";
      }
      if (!pending.equals(job.view().getPendingReason())) {
        store.updateJob(job.id(),
            j -> j.withView(j.view().toBuilder().setPendingReason(pending).build()));
      }
    }
  }

  private boolean lease(JobRecord job, AgentSession session) {
    Instant now = now();
    String leaseId = UUID.randomUUID().toString();
    WorkspaceRecord ws = store.updateWorkspace(job.view().getWorkspace(),
        w -> w.withActiveJob(job.id()));
    PayloadRef priorState = Payloads.none(PayloadKind.PAYLOAD_KIND_PRIOR_STATE);
    if (Payloads.isPresent(ws.state())) {
      byte[] state = store.payload(workspaceOwner(ws), "state").orElseThrow();
      store.putPayload(jobOwner(job.id()), PayloadKind.PAYLOAD_KIND_PRIOR_STATE.name(), state);
      priorState = Payloads.ref(PayloadKind.PAYLOAD_KIND_PRIOR_STATE, state);
    }
    byte[] source = store.payload(jobOwner(job.id()), PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE.name())
        .orElseThrow();
    PayloadRef savedPlan = Payloads.none(PayloadKind.PAYLOAD_KIND_SAVED_PLAN);
    String planJob = job.view().getType().getApply().getSavedPlanJobId();
    if (!planJob.isEmpty()) {
      byte[] plan = store.payload(jobOwner(planJob), PayloadKind.PAYLOAD_KIND_PLAN_FILE.name())
          .orElseThrow();
      store.putPayload(jobOwner(job.id()), PayloadKind.PAYLOAD_KIND_SAVED_PLAN.name(), plan);
      savedPlan = Payloads.ref(PayloadKind.PAYLOAD_KIND_SAVED_PLAN, plan);
    }
    // A saved plan embeds the plan job's values: its sensitive ones must be masked too.
    List<dev.outpost.proto.v1.Variable> variables = new ArrayList<>(job.variables());
    if (!planJob.isEmpty()) {
      store.job(planJob).ifPresent(p -> p.variables().stream()
          .filter(dev.outpost.proto.v1.Variable::getSensitive).forEach(variables::add));
    }
    JobRecord leased = store.updateJob(job.id(), j -> j
        .withLease(leaseId, session.agentId(), now.plus(settings.leaseTtl()))
        .withView(j.view().toBuilder().setStatus(JobStatus.JOB_STATUS_RUNNING)
            .setStartedAt(timestamp(now)).setAgentId(session.agentId())
            .setAgentName(session.principal.agentName()).clearPendingReason().build()))
        .orElseThrow();
    JobAssignment assignment = JobAssignment.newBuilder()
        .setLease(LeaseRef.newBuilder().setJobId(job.id()).setLeaseId(leaseId))
        .setWorkspace(job.view().getWorkspace()).setType(job.view().getType())
        .addAllVariables(variables)
        .setSource(Payloads.ref(PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE, source))
        .setPriorState(priorState)
        .setSavedPlan(savedPlan)
        .putAllTags(job.view().getTagsMap())
        .setSubmittedAt(job.view().getSubmittedAt()).setLeasedAt(timestamp(now))
        .setNetwork(leased.view().getNetwork().isEmpty() ? "full" : leased.view().getNetwork())
        .setTerraformVersionConstraint(job.view().getTerraformVersionConstraint())
        .setSourceInline(source.length <= INLINE_SOURCE_BYTES
            ? com.google.protobuf.ByteString.copyFrom(source) : com.google.protobuf.ByteString.EMPTY)
        .build();
    held.merge(session.agentId(), 1, Integer::sum);
    leasedIds.add(job.id());
    if (!session.send(ServerMessage.newBuilder().setAssignment(assignment).build())) {
      held.merge(session.agentId(), -1, Integer::sum);
      // The stream died between the match and the send: put the job back.
      store.updateJob(job.id(), j -> j.withLease(null, null, null).withView(j.view().toBuilder()
          .setStatus(JobStatus.JOB_STATUS_QUEUED).clearStartedAt().clearAgentId()
          .clearAgentName().build()));
      store.updateWorkspace(job.view().getWorkspace(), w -> w.withActiveJob(""));
      return false;
    }
    audit("job.leased", session.principal, job.id(), "lease " + leaseId);
    log.info("job {} leased to agent {}", job.id(), session.agentId());
    return true;
  }

  // ---- jobs ---------------------------------------------------------------------------------

  synchronized Job cancel(String jobId, String reason) throws StatusException {
    JobRecord job = store.job(jobId).orElseThrow(
        () -> Status.NOT_FOUND.withDescription("no job " + jobId).asException());
    switch (job.view().getStatus()) {
      case JOB_STATUS_QUEUED -> store.updateJob(jobId, j -> j.withView(j.view().toBuilder()
          .setStatus(JobStatus.JOB_STATUS_CANCELLED).setFinishedAt(timestamp(now()))
          .setErrorMessage("cancelled before it started: " + reason).build()));
      case JOB_STATUS_RUNNING -> {
        JobRecord updated = store.updateJob(jobId, j -> j.withView(j.view().toBuilder()
            .setStatus(JobStatus.JOB_STATUS_CANCELLING).build())).orElseThrow();
        AgentSession session = sessions.get(updated.leaseAgentId());
        if (session != null) {
          pushCancel(session, updated, reason);
        }
      }
      default -> { }
    }
    signalLogs();
    return store.job(jobId).orElseThrow().view();
  }

  private void pushCancel(AgentSession session, JobRecord job, String reason) {
    session.send(ServerMessage.newBuilder().setCancel(CancelJob.newBuilder()
        .setLease(LeaseRef.newBuilder().setJobId(job.id()).setLeaseId(job.leaseId()))
        .setReason(reason)).build());
  }

  /**
   * The job named by {@code lease}, checked against the caller: it must exist, belong to the
   * caller's organization, and be leased to the caller with this lease. With
   * {@code allowLate}, the agent that held a lease that has since ended may still deliver.
   */
  JobRecord checkLease(Principal caller, LeaseRef lease, boolean allowLate) throws StatusException {
    Optional<JobRecord> found = store.job(lease.getJobId());
    if (found.isEmpty() || !found.get().view().getWorkspace().getOrg().equals(caller.org())) {
      // The same answer for "absent" and "another org's": no probing of other orgs' job ids.
      throw Status.PERMISSION_DENIED.withDescription(
          "job " + lease.getJobId() + " is not leased to this agent").asException();
    }
    JobRecord job = found.get();
    boolean holder = lease.getLeaseId().equals(job.leaseId())
        && agentId(caller).equals(job.leaseAgentId());
    if (holder && (!job.terminal() || allowLate)) {
      return job;
    }
    throw Status.PERMISSION_DENIED.withDescription("stale lease " + lease.getLeaseId()
        + " for job " + lease.getJobId()).asException();
  }

  synchronized void release(JobRecord job) {
    store.updateWorkspace(job.view().getWorkspace(),
        w -> job.id().equals(w.activeJobId()) ? w.withActiveJob("") : w);
    if (job.leaseAgentId() != null) {
      held.computeIfPresent(job.leaseAgentId(), (k, v) -> v > 1 ? v - 1 : null);
    }
    dispatch();
  }

  int free(AgentSession s) {
    return Math.max(0, Math.min(s.freeSlots, s.maxJobs - held.getOrDefault(s.agentId(), 0)));
  }

  /**
   * Marks jobs whose lease was not renewed in time as interrupted and frees their workspaces.
   * The agent that held such a lease may still deliver the job's logs and state; they are
   * stored flagged late (see JobResults).
   */
  synchronized void expireLeases() {
    Instant now = now();
    // A copy: releasing a job dispatches, which may lease another.
    for (JobRecord job : leasedTo(null)) {
      if (job.leaseExpiresAt() == null || !now.isAfter(job.leaseExpiresAt())) {
        continue;
      }
      JobRecord expired = store.updateJob(job.id(), j -> j.withView(j.view().toBuilder()
          .setStatus(JobStatus.JOB_STATUS_INTERRUPTED).setFinishedAt(timestamp(now))
          .setErrorMessage("the lease expired: agent " + j.leaseAgentId()
              + " did not renew it within " + settings.leaseTtl()).build())).orElseThrow();
      audit("lease.expired", null, job.id(), "agent " + job.leaseAgentId());
      log.warn("job {}: lease of agent {} expired; marked interrupted", job.id(),
          job.leaseAgentId());
      release(expired);
      signalLogs();
    }
  }

  /**
   * Unfinished jobs that hold a lease, of one agent ({@code null}: of every agent), oldest first;
   * drops the ids of jobs that no longer hold one from the index.
   */
  private List<JobRecord> leasedTo(String agentId) {
    List<JobRecord> jobs = new ArrayList<>();
    for (Iterator<String> ids = leasedIds.iterator(); ids.hasNext(); ) {
      JobRecord job = store.job(ids.next()).orElse(null);
      if (job == null || job.terminal() || job.leaseId() == null) {
        ids.remove();
      } else if (agentId == null || agentId.equals(job.leaseAgentId())) {
        jobs.add(job);
      }
    }
    return jobs;
  }

  static String agentId(Principal p) {
    return p.org() + "/" + p.agentName();
  }

  // ---- logs -----------------------------------------------------------------------------

  void signalLogs() {
    synchronized (logSignal) {
      logSignal.notifyAll();
    }
  }

  /** Waits until something changes in any job's log or status, or the timeout passes. */
  void awaitLogChange(Duration timeout) throws InterruptedException {
    synchronized (logSignal) {
      logSignal.wait(Math.max(1, timeout.toMillis()));
    }
  }

  // ---- helpers --------------------------------------------------------------------------

  void audit(String kind, Principal p, String jobId, String detail) {
    store.audit(AuditEvent.newBuilder().setTime(timestamp(now())).setKind(kind)
        .setOrg(p == null ? "" : p.org()).setKeyId(p == null ? "" : p.keyId())
        .setAgentId(p == null ? "" : agentId(p)).setJobId(jobId).setDetail(detail).build());
  }

  void auditRefusal(String org, String keyId, String detail) {
    store.audit(AuditEvent.newBuilder().setTime(timestamp(now())).setKind("auth.refused")
        .setOrg(org).setKeyId(keyId).setDetail(detail).build());
  }

  static String jobOwner(String jobId) {
    return "job/" + jobId;
  }

  static String workspaceOwner(WorkspaceRecord ws) {
    return "workspace/" + ws.key();
  }

  static Timestamp timestamp(Instant t) {
    return Times.timestamp(t);
  }

  static List<String> names(List<dev.outpost.proto.v1.Variable> vars) {
    List<String> names = new ArrayList<>();
    vars.forEach(v -> names.add(v.getName()));
    return names;
  }
}
