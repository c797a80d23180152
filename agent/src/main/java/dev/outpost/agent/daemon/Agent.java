package dev.outpost.agent.daemon;

import dev.outpost.agent.job.JobSettings;
import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.ops.AgentMetrics;
import dev.outpost.agent.ops.ConfigException;
import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.AgentMessage;
import dev.outpost.proto.v1.Hello;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.SlotsAvailable;
import dev.outpost.proto.v1.Welcome;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon: keeps one session open to the control plane (reconnecting with jittered backoff),
 * keeps its client identity current (enrollment, renewal at two thirds of the lifetime, files
 * rotated by an operator), receives pushed jobs and cancellations, and reports free slots.
 * Returns an exit code; never calls System.exit itself.
 */
public final class Agent {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);
  private static final Duration WATCH_INTERVAL = Duration.ofMillis(500);

  private final AgentConfig config;
  private final ControlPlaneClient client;
  private final Credentials credentials;
  private final JobSettings jobs;
  private final JobSlots slots;
  private final Clock clock;
  private final FileFingerprint watched;
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final AtomicReference<ClientCallStreamObserver<AgentMessage>> session =
      new AtomicReference<>();
  private final AtomicReference<ClientCallStreamObserver<AgentMessage>> opening =
      new AtomicReference<>();
  private final String agentVersion;
  private final java.util.concurrent.atomic.AtomicBoolean draining =
      new java.util.concurrent.atomic.AtomicBoolean();
  private volatile String stopReason = "the agent is shutting down";
  private final java.util.concurrent.atomic.AtomicBoolean reloadRequested =
      new java.util.concurrent.atomic.AtomicBoolean();
  private byte[] knownFiles;
  private volatile boolean connected;
  private volatile String lastProblem = "not connected yet";
  private volatile long lastTick = System.nanoTime();
  private final java.util.concurrent.atomic.AtomicBoolean onceTaken =
      new java.util.concurrent.atomic.AtomicBoolean();

  public Agent(AgentConfig config, ControlPlaneClient client, Credentials credentials,
      JobSettings jobs, String agentVersion) {
    this.config = config;
    this.client = client;
    this.credentials = credentials;
    this.jobs = jobs;
    this.clock = jobs.clock();
    this.agentVersion = agentVersion;
    this.watched = new FileFingerprint(credentials.watchedFiles());
    this.knownFiles = watched.current();
    this.slots = new JobSlots(config.maxJobs(), jobs, client, this::announceSlots);
  }

  /**
   * Resumes the jobs an earlier agent process accepted and did not finish (their records in the
   * state directory), before the first session: their leases go in its Hello. Returns their ids.
   */
  public java.util.Set<String> resumeJobs() throws IOException {
    java.util.Set<String> ids = new java.util.TreeSet<>();
    for (dev.outpost.agent.spool.JobSpool spool
        : dev.outpost.agent.spool.JobSpool.existing(jobs.stateDir())) {
      slots.resume(spool);
      ids.add(spool.jobId());
    }
    if (config.once() && !ids.isEmpty()) {
      // --once: a job taken back after a restart is the one job.
      finishAfterTheJob();
    }
    return ids;
  }

  /**
   * SIGHUP: the certificate, key and org key files are read again now and the session is
   * reopened with them (running jobs are untouched), even if they look unchanged.
   */
  public void reload() {
    log.info("reload requested: reading the credential files again");
    reloadRequested.set(true);
  }

  /**
   * Why the agent is not ready for jobs: empty when it is connected, has its certificate and is
   * not draining (the sandbox was probed at start; an agent whose sandbox fails does not run).
   */
  public java.util.List<String> notReady() {
    java.util.List<String> problems = new java.util.ArrayList<>();
    if (!connected) {
      problems.add("not connected to the control plane: " + lastProblem);
    }
    if (credentials.source() instanceof IdentitySource.Enrolled && credentials.identity() == null) {
      problems.add("not enrolled yet (no client certificate)");
    }
    if (draining.get()) {
      problems.add("draining: taking no new jobs");
    } else if (onceTaken.get()) {
      problems.add("--once: the one job is taken");
    }
    return problems;
  }

  /** One line for an operator (systemd's STATUS=): the connection and the running jobs. */
  public String statusLine() {
    String jobs = slots.running() + " job(s) running";
    if (draining.get()) {
      return "draining; " + jobs;
    }
    return (connected ? "connected to " + config.controlPlane()
        : "not connected to " + config.controlPlane() + " (" + lastProblem + ")") + "; " + jobs;
  }

  /** True while the main loop has gone round within {@code limit}: what the watchdog pings. */
  public boolean alive(Duration limit) {
    return System.nanoTime() - lastTick < limit.toNanos();
  }

  /** Jobs running now (a gauge). */
  public int runningJobs() {
    return slots.running();
  }

  /** When the client certificate in use expires; null before enrollment. */
  public Instant certificateExpiry() {
    Identity identity = credentials.identity();
    return identity == null ? null : identity.notAfter();
  }

  public boolean draining() {
    return draining.get();
  }

  /** Asks the agent to stop: no new jobs; running ones are interrupted and delivered. */
  public void stop() {
    stopRequested.countDown();
  }

  /**
   * The first SIGTERM: take no new jobs, let the running ones finish within the timeout, then
   * interrupt what is left (its state is delivered) and stop. A second call stops at once.
   */
  public void drain(Duration timeout) {
    if (!draining.compareAndSet(false, true)) {
      log.info("asked again to stop: interrupting {} running job(s) now", slots.running());
      stop();
      return;
    }
    slots.drain();
    announceSlots(0);
    log.info("draining: taking no new jobs; {} running job(s) may finish within {} "
        + "(SIGTERM again or SIGINT interrupts them now)", slots.running(), timeout);
    Thread drainer = new Thread(() -> {
      try {
        if (!slots.awaitIdle(timeout)) {
          stopReason = "the agent's drain timeout of " + timeout + " passed";
          log.warn("drain timeout of {} passed; interrupting {} job(s)", timeout,
              slots.running());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      stop();
    }, "drain");
    drainer.setDaemon(true);
    drainer.start();
  }

  /** Runs until stopped or a non-retryable failure; returns the process exit code. */
  public int run() throws InterruptedException {
    Instant giveUpConnecting = clock.instant().plus(config.connectTimeout());
    boolean everConnected = false;
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(30));
    try {
      while (stopRequested.getCount() > 0) {
        Instant began = clock.instant();
        SessionEnd end = identityDue() ? enroll() : runSession();
        everConnected |= end.welcomed();
        // Only a session that lasted resets the backoff: one ended at once (another agent with
        // the same name, a refusal after Welcome) must not turn into a reconnect storm.
        if (end.welcomed() && Duration.between(began, clock.instant()).toSeconds() >= 10) {
          backoff.reset();
        }
        Failure f = end.failure();
        if (f == null) {
          continue;
        }
        lastProblem = f.message();
        switch (f.kind()) {
          case AUTH -> {
            if (!awaitNewCredentials(f)) {
              if (stopRequested.getCount() == 0) {
                return ExitCodes.OK;
              }
              return fail(ExitCodes.AUTH, f.message() + "; the agent waited "
                  + config.authWait().toSeconds() + " s for --org-key-file, --cert or --key to "
                  + "change and is giving up");
            }
          }
          case PROTOCOL -> {
            return fail(f.kind().exitCode, f.message());
          }
          case DENIED, REFUSED -> {
            return fail(f.kind().exitCode, f.message());
          }
          case RETRYABLE -> {
            if (!everConnected && clock.instant().isAfter(giveUpConnecting)) {
              return fail(ExitCodes.UNREACHABLE, "cannot reach the control plane at "
                  + config.controlPlane() + " within " + config.connectTimeout().toSeconds()
                  + " s: " + f.message());
            }
            Duration wait = backoff.next();
            AgentMetrics.reconnect();
            log.warn("connection to the control plane lost ({}); reconnecting in {} ms",
                f.message(), wait.toMillis());
            if (awaitStop(wait)) {
              return ExitCodes.OK;
            }
          }
        }
      }
      return ExitCodes.OK;
    } finally {
      slots.stopAll(stopReason);
    }
  }

  /** Waits for a stop request up to {@code wait}, showing the watchdog the loop is alive. */
  private boolean awaitStop(Duration wait) throws InterruptedException {
    long end = System.nanoTime() + wait.toNanos();
    while (true) {
      lastTick = System.nanoTime();
      long left = end - lastTick;
      if (left <= 0) {
        return false;
      }
      if (stopRequested.await(Math.min(left, WATCH_INTERVAL.toNanos()), TimeUnit.NANOSECONDS)) {
        return true;
      }
    }
  }

  /**
   * --once: the agent takes no job after this one, and stops (exit 0) once it is finished and
   * its result delivered.
   */
  private void finishAfterTheJob() {
    if (!onceTaken.compareAndSet(false, true)) {
      return;
    }
    slots.drain();
    announceSlots(0);
    log.info("--once: the one job is taken; the agent exits once it is delivered");
    Thread waiter = new Thread(() -> {
      try {
        slots.awaitIdle(Duration.ofDays(3650));
        stopReason = "--once: the job is done";
        stop();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "once");
    waiter.setDaemon(true);
    waiter.start();
  }

  private int fail(int code, String message) {
    System.err.println("outpost-agent: " + message);
    jobs.lifecycle().abandonDelivery();
    return code;
  }

  private record SessionEnd(boolean welcomed, Failure failure) {
    static SessionEnd restart() {
      return new SessionEnd(true, null);
    }
  }

  /** Enrolled agents need a certificate first, and a new one at two thirds of its lifetime. */
  private boolean identityDue() {
    if (!(credentials.source() instanceof IdentitySource.Enrolled)) {
      return false;
    }
    Identity current = credentials.identity();
    return current == null || !clock.instant().isBefore(current.renewAt());
  }

  private SessionEnd enroll() {
    Identity current = credentials.identity();
    if (current != null && !clock.instant().isBefore(current.notAfter())) {
      // An expired certificate would be rejected in the enrollment handshake itself: enroll
      // without one, with the org key alone.
      log.warn("the client certificate expired at {}; enrolling again", current.notAfter());
      credentials.install(null);
      client.reconnect();
    }
    boolean renewal = credentials.identity() != null;
    try {
      new Enroller(client, credentials, config.agentName()).enroll();
      // Running jobs are untouched: only connections are renewed.
      client.reconnect();
      knownFiles = watched.current();
      return new SessionEnd(renewal, null);
    } catch (StatusRuntimeException e) {
      Failure f = Failure.of(e);
      return new SessionEnd(false, new Failure(f.kind(), "enrollment failed: " + f.message()));
    } catch (IOException e) {
      return new SessionEnd(false, new Failure(Failure.Kind.RETRYABLE,
          "enrollment failed: " + e.getMessage()));
    }
  }

  /**
   * After an auth failure: running jobs are interrupted (Terraform gets SIGINT and writes its
   * state); their results wait in their job directories. The agent then watches its key and
   * certificate files for a bounded time; true when they changed and are worth a new try.
   */
  private boolean awaitNewCredentials(Failure f) throws InterruptedException {
    log.error("{}", f.message());
    if (slots.running() > 0) {
      slots.interruptAll("the control plane refused the agent's credentials");
    }
    log.warn("waiting up to {} s for new credentials in {}", config.authWait().toSeconds(),
        credentials.watchedFiles());
    Instant deadline = clock.instant().plus(config.authWait());
    while (clock.instant().isBefore(deadline)) {
      if (stopRequested.await(WATCH_INTERVAL.toMillis(), TimeUnit.MILLISECONDS)) {
        return false;
      }
      if (filesChanged()) {
        log.info("credential files changed; reconnecting");
        return true;
      }
    }
    return false;
  }

  /** True (and the new identity installed) when a watched file changed since last seen. */
  private boolean filesChanged() {
    byte[] now = watched.current();
    boolean forced = reloadRequested.getAndSet(false);
    if (!forced && FileFingerprint.same(now, knownFiles)) {
      return false;
    }
    try {
      if (credentials.source() instanceof IdentitySource.OperatorFiles files) {
        credentials.install(files.load());
      }
      Credentials.readOrgKey(credentials.orgKeyFile());
    } catch (ConfigException e) {
      // Half-written rotation (new certificate, old key): look again on the next tick.
      log.debug("credential files changed but are not usable yet: {}", e.getMessage());
      return false;
    }
    knownFiles = now;
    client.reconnect();
    return true;
  }

  /** Opens a session and blocks until it ends, a stop is requested, or identity must change. */
  private SessionEnd runSession() throws InterruptedException {
    CompletableFuture<Welcome> welcome = new CompletableFuture<>();
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    client.session().connect(new ClientResponseObserver<AgentMessage, ServerMessage>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<AgentMessage> requests) {
        opening.set(requests);
      }

      @Override
      public void onNext(ServerMessage message) {
        switch (message.getMessageCase()) {
          case WELCOME -> welcome.complete(message.getWelcome());
          case ASSIGNMENT -> {
            slots.start(message.getAssignment());
            if (config.once()) {
              finishAfterTheJob();
            }
          }
          case CANCEL -> slots.cancel(message.getCancel().getLease(),
              message.getCancel().getReason());
          case CLOSING -> log.info("the control plane is closing the session: {}",
              message.getClosing().getReason());
          default -> log.debug("ignoring unknown session message {}", message.getMessageCase());
        }
      }

      @Override
      public void onError(Throwable t) {
        welcome.completeExceptionally(t);
        ended.complete(t);
      }

      @Override
      public void onCompleted() {
        welcome.completeExceptionally(new IllegalStateException("session closed"));
        ended.complete(null);
      }
    });
    // Hello goes first on the new stream; only then may slot reports use it.
    ClientCallStreamObserver<AgentMessage> requests = opening.getAndSet(null);
    synchronized (requests) {
      requests.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder()
          .setProtocolVersion(ProtocolVersion.currentMessage()).setAgentName(config.agentName())
          .putAllTags(config.tags()).setMaxJobs(config.maxJobs()).setFreeSlots(slots.free())
          .setTerraform(slots.terraformVersion()).setAgentVersion(agentVersion)
          .addAllHeldLeases(slots.leases())).build());
    }
    session.set(requests);
    try {
      Welcome w = welcome.get(config.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
      log.info("connected to {} as {} (session {}, protocol {}.{})", config.controlPlane(),
          w.getAgentId(), w.getSessionId(), w.getProtocolVersion().getMajor(),
          w.getProtocolVersion().getMinor());
      connected = true;
      slots.startHeartbeat(Times.duration(w.getHeartbeatInterval()));
    } catch (ExecutionException e) {
      Failure f = Failure.of(e.getCause());
      lastProblem = f.message();
      return new SessionEnd(false, f);
    } catch (TimeoutException e) {
      cancelSession("no answer to Hello");
      return new SessionEnd(false, new Failure(Failure.Kind.RETRYABLE,
          "no answer from the control plane within " + config.connectTimeout().toSeconds()
              + " s"));
    }
    try {
      return watchSession(ended);
    } finally {
      connected = false;
    }
  }

  private SessionEnd watchSession(CompletableFuture<Throwable> ended)
      throws InterruptedException {
    while (!ended.isDone()) {
      lastTick = System.nanoTime();
      if (stopRequested.await(WATCH_INTERVAL.toMillis(), TimeUnit.MILLISECONDS)) {
        cancelSession("agent stopping");
        return new SessionEnd(true, null);
      }
      if (identityDue()) {
        log.info("client certificate renewal due; renewing");
        cancelSession("renewing the client certificate");
        return SessionEnd.restart();
      }
      if (filesChanged()) {
        log.info("credential files changed; opening a new session with them");
        cancelSession("credentials rotated");
        return SessionEnd.restart();
      }
    }
    Throwable t = ended.getNow(null);
    return new SessionEnd(true, t == null
        ? new Failure(Failure.Kind.RETRYABLE, "the control plane closed the session")
        : Failure.of(t));
  }

  private void cancelSession(String why) {
    ClientCallStreamObserver<AgentMessage> s = session.getAndSet(null);
    if (s != null) {
      s.cancel(why, null);
    }
  }

  private void announceSlots(int free) {
    log.debug("announcing {} free slot(s) to the control plane", free);
    send(AgentMessage.newBuilder().setSlots(SlotsAvailable.newBuilder().setFreeSlots(free)).build());
  }

  private void send(AgentMessage message) {
    ClientCallStreamObserver<AgentMessage> s = session.get();
    if (s == null) {
      return;
    }
    synchronized (s) {
      try {
        s.onNext(message);
      } catch (RuntimeException e) {
        log.debug("session message not sent: {}", e.toString());
      }
    }
  }
}
