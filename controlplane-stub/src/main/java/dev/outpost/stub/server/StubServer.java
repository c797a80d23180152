package dev.outpost.stub.server;

import dev.outpost.stub.store.Store;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reference control plane: the agent-facing TLS port (Provisioner; client certificates
 * requested, not required, so Enrollment can share it) and the Admin listener.
 */
public final class StubServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StubServer.class);

  /** Where to listen and with which credentials. */
  public record Config(InetSocketAddress agentListen, InetSocketAddress adminListen,
      Path serverCert, Path serverKey, Path clientCa, String adminToken,
      ControlPlane.Settings settings, long maxPayloadBytes) {}

  private final ControlPlane plane;
  private final Server agentServer;
  private final Server adminServer;

  private StubServer(ControlPlane plane, Server agentServer, Server adminServer) {
    this.plane = plane;
    this.agentServer = agentServer;
    this.adminServer = adminServer;
  }

  public static StubServer start(Config config, Store store, Clock clock) throws IOException {
    ControlPlane plane = new ControlPlane(store, clock, config.settings());
    ServerCredentials tls = TlsServerCredentials.newBuilder()
        .keyManager(config.serverCert().toFile(), config.serverKey().toFile())
        .trustManager(config.clientCa().toFile())
        .clientAuth(TlsServerCredentials.ClientAuth.OPTIONAL)
        .build();
    // Messages stay small by design (payloads travel in 1 MiB chunks); the limit only guards
    // against a peer sending one huge message.
    int maxMessage = 8 << 20;
    Server agentServer = NettyServerBuilder.forAddress(config.agentListen(), tls)
        .addService(ServerInterceptors.intercept(
            new ProvisionerService(plane, config.maxPayloadBytes()),
            new AgentAuthInterceptor(store, clock, config.settings().trustDomain())))
        .maxInboundMessageSize(maxMessage)
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .build();
    Server adminServer = NettyServerBuilder.forAddress(config.adminListen(),
            InsecureServerCredentials.create())
        .addService(ServerInterceptors.intercept(new AdminService(plane, config.maxPayloadBytes()),
            new AdminAuthInterceptor(config.adminToken())))
        .maxInboundMessageSize(maxMessage)
        .build();
    agentServer.start();
    try {
      adminServer.start();
    } catch (IOException e) {
      agentServer.shutdownNow();
      throw e;
    }
    log.info("listening for agents on {}, admin on {}", agentServer.getListenSockets(),
        adminServer.getListenSockets());
    return new StubServer(plane, agentServer, adminServer);
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
    }
  }
}
