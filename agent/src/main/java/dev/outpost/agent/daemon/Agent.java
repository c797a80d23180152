package dev.outpost.agent.daemon;

import dev.outpost.agent.job.JobSettings;
import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.AgentMessage;
import dev.outpost.proto.v1.Hello;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.SlotsAvailable;
import dev.outpost.proto.v1.Welcome;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon: keeps one session open to the control plane (reconnecting with jittered backoff),
 * receives pushed jobs and cancellations, and reports free slots. Returns an exit code; never
 * calls System.exit itself.
 */
public final class Agent {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  private final AgentConfig config;
  private final ControlPlaneClient client;
  private final JobSlots slots;
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final AtomicReference<ClientCallStreamObserver<AgentMessage>> session =
      new AtomicReference<>();
  private final String agentVersion;

  public Agent(AgentConfig config, ControlPlaneClient client, JobSettings jobs,
      String agentVersion) {
    this.config = config;
    this.client = client;
    this.agentVersion = agentVersion;
    this.slots = new JobSlots(config.maxJobs(), jobs, client, this::announceSlots);
  }

  /** Asks the agent to stop: no new jobs; running ones are interrupted and delivered. */
  public void stop() {
    stopRequested.countDown();
  }

  /** Runs until stopped or a non-retryable failure; returns the process exit code. */
  public int run() throws InterruptedException {
    Instant giveUpConnecting = Instant.now().plus(config.connectTimeout());
    boolean everConnected = false;
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(30));
    try {
      while (stopRequested.getCount() > 0) {
        SessionEnd end = runSession();
        everConnected |= end.welcomed();
        if (end.welcomed()) {
          backoff.reset();
        }
        if (end.failure() == null) {
          continue;
        }
        Failure f = end.failure();
        switch (f.kind()) {
          case AUTH, PROTOCOL, REFUSED -> {
            System.err.println("outpost-agent: " + f.message());
            return f.kind() == Failure.Kind.REFUSED ? ExitCodes.AUTH : f.kind().exitCode;
          }
          case RETRYABLE -> {
            if (!everConnected && Instant.now().isAfter(giveUpConnecting)) {
              String message = "cannot reach the control plane at " + config.controlPlane()
                  + " within " + config.connectTimeout().toSeconds() + " s: " + f.message();
              System.err.println("outpost-agent: " + message);
              return ExitCodes.UNREACHABLE;
            }
            Duration wait = backoff.next();
            log.warn("connection to the control plane lost ({}); reconnecting in {} ms",
                f.message(), wait.toMillis());
            if (stopRequested.await(wait.toMillis(), TimeUnit.MILLISECONDS)) {
              return ExitCodes.OK;
            }
          }
        }
      }
      return ExitCodes.OK;
    } finally {
      slots.stopAll("the agent is shutting down");
    }
  }

  private record SessionEnd(boolean welcomed, Failure failure) {}

  /** Opens a session and blocks until it ends or a stop is requested. */
  private SessionEnd runSession() throws InterruptedException {
    CompletableFuture<Welcome> welcome = new CompletableFuture<>();
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    client.session().connect(new ClientResponseObserver<AgentMessage, ServerMessage>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<AgentMessage> requests) {
        session.set(requests);
      }

      @Override
      public void onNext(ServerMessage message) {
        switch (message.getMessageCase()) {
          case WELCOME -> welcome.complete(message.getWelcome());
          case ASSIGNMENT -> slots.start(message.getAssignment());
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
    send(AgentMessage.newBuilder().setHello(Hello.newBuilder()
        .setProtocolVersion(ProtocolVersion.currentMessage()).setAgentName(config.agentName())
        .putAllTags(config.tags()).setMaxJobs(config.maxJobs()).setFreeSlots(slots.free())
        .setTerraform(slots.terraformVersion()).setAgentVersion(agentVersion)
        .addAllHeldLeases(slots.leases())).build());
    try {
      Welcome w = welcome.get(config.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
      log.info("connected to {} as {} (session {}, protocol {}.{})", config.controlPlane(),
          w.getAgentId(), w.getSessionId(), w.getProtocolVersion().getMajor(),
          w.getProtocolVersion().getMinor());
      slots.startHeartbeat(Times.duration(w.getHeartbeatInterval()));
    } catch (java.util.concurrent.ExecutionException e) {
      return new SessionEnd(false, Failure.of(e.getCause()));
    } catch (TimeoutException e) {
      cancelSession("no answer to Hello");
      return new SessionEnd(false, new Failure(Failure.Kind.RETRYABLE,
          "no answer from the control plane within " + config.connectTimeout().toSeconds()
              + " s"));
    }
    while (!ended.isDone()) {
      if (stopRequested.await(100, TimeUnit.MILLISECONDS)) {
        cancelSession("agent stopping");
        return new SessionEnd(true, null);
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
