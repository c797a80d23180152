package dev.outpost.stub.server;

import dev.outpost.stub.pki.CertificateAuthority;
import dev.outpost.stub.pki.IssuerBindings;
import dev.outpost.stub.pki.PkiFiles;
import dev.outpost.stub.store.Store;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reference control plane: the agent-facing TLS port (Enrollment and Provisioner; client
 * certificates requested, not required, so Enrollment can share it) and the Admin listener.
 */
public final class StubServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StubServer.class);

  /**
   * Where to listen and with which credentials. {@code clientCa}/{@code caKey} are the agent CA
   * that signs enrollments; {@code issuerOrgs} binds operator CAs to one org each (they are
   * trusted by the handshake too); {@code tlsMin} is "1.3" (default) or "1.2".
   */
  public record Config(InetSocketAddress agentListen, InetSocketAddress adminListen,
      Path serverCert, Path serverKey, Path clientCa, Path caKey, String adminToken,
      ControlPlane.Settings settings, long maxPayloadBytes,
      List<IssuerBindings.Binding> issuerOrgs, String tlsMin) {
    public Config {
      issuerOrgs = List.copyOf(issuerOrgs);
      if (!TlsContexts.VERSIONS.contains(tlsMin)) {
        throw new IllegalArgumentException("--tls-min " + tlsMin + " is invalid: use 1.3 or 1.2");
      }
    }

    /** The defaults: the PKI directory's files, no bound operator CA, TLS 1.3 only. */
    public static Config of(InetSocketAddress agentListen, InetSocketAddress adminListen,
        PkiFiles pki, String adminToken, ControlPlane.Settings settings, long maxPayloadBytes) {
      return new Config(agentListen, adminListen, pki.serverCert(), pki.serverKey(),
          pki.caCert(), pki.caKey(), adminToken, settings, maxPayloadBytes, List.of(), "1.3");
    }

    public Config withIssuerOrgs(List<IssuerBindings.Binding> bindings) {
      return new Config(agentListen, adminListen, serverCert, serverKey, clientCa, caKey,
          adminToken, settings, maxPayloadBytes, bindings, tlsMin);
    }

    public Config withTlsMin(String version) {
      return new Config(agentListen, adminListen, serverCert, serverKey, clientCa, caKey,
          adminToken, settings, maxPayloadBytes, issuerOrgs, version);
    }
  }

  private final ControlPlane plane;
  private final Server agentServer;
  private final Server adminServer;
  private final ScheduledExecutorService expiryChecks;
  /** The servers' own threads when they were given a ThreadFactory, else null. */
  private final Threads threads;

  private StubServer(ControlPlane plane, Server agentServer, Server adminServer,
      ScheduledExecutorService expiryChecks, Threads threads) {
    this.plane = plane;
    this.agentServer = agentServer;
    this.adminServer = adminServer;
    this.expiryChecks = expiryChecks;
    this.threads = threads;
  }

  /** Event loops and the executor of both listeners, all made by one ThreadFactory. */
  private record Threads(EventLoopGroup boss, EventLoopGroup workers, ExecutorService calls) {
    static Threads of(ThreadFactory factory) {
      return new Threads(new NioEventLoopGroup(1, factory), new NioEventLoopGroup(0, factory),
          Executors.newCachedThreadPool(factory));
    }

    NettyServerBuilder apply(NettyServerBuilder builder) {
      return builder.bossEventLoopGroup(boss).workerEventLoopGroup(workers)
          .channelType(NioServerSocketChannel.class).executor(calls);
    }

    void shutdown() {
      calls.shutdown();
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  /**
   * Starts both listeners.
   *
   * @throws IOException when a port cannot be bound or a PKI file cannot be read
   * @throws IllegalArgumentException when an issuer is bound to two organizations
   */
  public static StubServer start(Config config, Store store, Clock clock) throws IOException {
    return start(config, store, clock, null);
  }

  /**
   * As above, with every thread of both listeners (event loops and the calls' executor) made
   * by {@code threadFactory} instead of taken from gRPC's shared pools (null: those pools).
   * The benchmarks host the control plane this way, in threads of their choosing.
   */
  public static StubServer start(Config config, Store store, Clock clock,
      ThreadFactory threadFactory) throws IOException {
    TransportFailures.install();
    ControlPlane plane = new ControlPlane(store, clock, config.settings());
    IssuerBindings bindings = IssuerBindings.load(config.issuerOrgs());
    CertificateAuthority ca = CertificateAuthority.load(config.clientCa(), config.caKey());
    Refusals refusals = new Refusals(plane);
    Revocations revocations = new Revocations(plane);
    OrgKeys keys = new OrgKeys(store, clock);
    ClientCertificates certificates = new ClientCertificates(store, clock,
        config.settings().trustDomain(), bindings);
    // Messages stay small by design (payloads travel in 1 MiB chunks); the limit only guards
    // against a peer sending one huge message.
    int maxMessage = 8 << 20;
    Threads threads = threadFactory == null ? null : Threads.of(threadFactory);
    NettyServerBuilder agentBuilder = NettyServerBuilder.forAddress(config.agentListen());
    NettyServerBuilder adminBuilder = NettyServerBuilder.forAddress(config.adminListen(),
        InsecureServerCredentials.create());
    if (threads != null) {
      threads.apply(agentBuilder);
      threads.apply(adminBuilder);
    }
    Server agentServer = agentBuilder
        .sslContext(TlsContexts.server(config, bindings))
        .addService(ServerInterceptors.intercept(
            new ProvisionerService(plane, config.maxPayloadBytes()),
            new AgentAuthInterceptor(certificates, keys, refusals)))
        .addService(ServerInterceptors.intercept(new EnrollmentService(plane, ca, refusals),
            new EnrollmentAuthInterceptor(keys, refusals)))
        .maxInboundMessageSize(maxMessage)
        // A peer that sends garbage or stalls mid-handshake holds a connection for at most this.
        .handshakeTimeout(10, TimeUnit.SECONDS)
        // Pings find dead agents behind NATs that drop idle flows; agents may ping every 10 s.
        .keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveTimeout(10, TimeUnit.SECONDS)
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .build();
    Server adminServer = adminBuilder
        .addService(ServerInterceptors.intercept(
            new AdminService(plane, revocations, config.maxPayloadBytes()),
            new AdminAuthInterceptor(config.adminToken())))
        .maxInboundMessageSize(maxMessage)
        .build();
    try {
      agentServer.start();
      adminServer.start();
    } catch (IOException e) {
      agentServer.shutdownNow();
      if (threads != null) {
        threads.shutdown();
      }
      throw e;
    }
    ScheduledExecutorService expiryChecks = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "outpost-session-expiry");
      t.setDaemon(true);
      return t;
    });
    // Keys and certificates that expire end their sessions within a second, like revocations.
    expiryChecks.scheduleWithFixedDelay(() -> {
      try {
        revocations.endExpiredSessions();
        plane.expireLeases();
      } catch (RuntimeException e) {
        log.error("session expiry check failed", e);
      }
    }, 1, 1, TimeUnit.SECONDS);
    log.info("listening for agents on {} (TLS {}+), admin on {}", agentServer.getListenSockets(),
        config.tlsMin(), adminServer.getListenSockets());
    return new StubServer(plane, agentServer, adminServer, expiryChecks, threads);
  }

  public ControlPlane plane() {
    return plane;
  }

  public InetSocketAddress agentAddress() {
    return (InetSocketAddress) agentServer.getListenSockets().get(0);
  }

  public InetSocketAddress adminAddress() {
    return (InetSocketAddress) adminServer.getListenSockets().get(0);
  }

  public void awaitTermination() throws InterruptedException {
    agentServer.awaitTermination();
    adminServer.awaitTermination();
  }

  @Override
  public void close() {
    expiryChecks.shutdownNow();
    plane.closeAllSessions("control plane shutting down");
    agentServer.shutdown();
    adminServer.shutdown();
    try {
      Duration grace = Duration.ofSeconds(5);
      if (!agentServer.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        agentServer.shutdownNow();
      }
      if (!adminServer.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        adminServer.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      agentServer.shutdownNow();
      adminServer.shutdownNow();
    } finally {
      if (threads != null) {
        threads.shutdown();
      }
    }
  }
}
