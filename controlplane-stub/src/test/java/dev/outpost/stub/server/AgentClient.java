package dev.outpost.stub.server;

import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.v1.AgentMessage;
import dev.outpost.proto.v1.EnrollmentGrpc;
import dev.outpost.proto.v1.HeartbeatRequest;
import dev.outpost.proto.v1.HeartbeatResponse;
import dev.outpost.proto.v1.Hello;
import dev.outpost.proto.v1.ProvisionerGrpc;
import dev.outpost.proto.v1.ServerMessage;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NegotiationType;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A real agent-side gRPC client over real TLS: optional client certificate, org key and protocol
 * version header as the agent sends them.
 */
final class AgentClient implements AutoCloseable {
  private final ManagedChannel channel;
  private final Metadata headers = new Metadata();
  private final String orgKey;

  private AgentClient(ManagedChannel channel, String orgKey, String version) {
    this.channel = channel;
    this.orgKey = orgKey;
    if (orgKey != null) {
      headers.put(ProtocolVersion.AUTHORIZATION, "Bearer " + orgKey);
    }
    headers.put(ProtocolVersion.HEADER, version);
  }

  /**
   * TLS trusting {@code ca}; with a client certificate, presented whatever the server asks for,
   * when {@code key} is not null.
   */
  static AgentClient tls(InetSocketAddress server, X509Certificate ca, PrivateKey key,
      X509Certificate cert, String orgKey, String... protocols) throws IOException {
    SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(ca);
    if (key != null) {
      ssl.keyManager(new PresentingKeyManager(key, cert));
    }
    if (protocols.length > 0) {
      ssl.protocols(protocols);
    }
    ManagedChannel channel = NettyChannelBuilder.forAddress(server)
        .overrideAuthority("localhost").sslContext(ssl.build()).build();
    return new AgentClient(channel, orgKey, ProtocolVersion.current());
  }

  /** HTTP/2 without TLS, to a port that speaks only TLS. */
  static AgentClient plaintext(InetSocketAddress server, String orgKey) {
    return new AgentClient(NettyChannelBuilder.forAddress(server)
        .negotiationType(NegotiationType.PLAINTEXT).build(), orgKey, ProtocolVersion.current());
  }

  /** The same connection and key, sending another protocol version header. */
  AgentClient withVersion(String version) {
    return new AgentClient(channel, orgKey, version);
  }

  ProvisionerGrpc.ProvisionerBlockingStub provisioner() {
    return ProvisionerGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  EnrollmentGrpc.EnrollmentBlockingStub enrollment() {
    return EnrollmentGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  HeartbeatResponse heartbeat() {
    return provisioner().heartbeat(HeartbeatRequest.getDefaultInstance());
  }

  /** An open Connect stream: what the server sent, and how the stream ended. */
  static final class Session {
    final List<ServerMessage> received = new CopyOnWriteArrayList<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<AgentMessage> requests;

    boolean welcomed() {
      return received.stream().anyMatch(ServerMessage::hasWelcome);
    }
  }

  Session connect(String agentName, int freeSlots) {
    return connect(agentName, freeSlots, "1.11.4");
  }

  Session connect(String agentName, int freeSlots, String terraformVersion) {
    Session session = new Session();
    session.requests = ProvisionerGrpc.newStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .connect(new StreamObserver<>() {
          @Override
          public void onNext(ServerMessage message) {
            session.received.add(message);
          }

          @Override
          public void onError(Throwable t) {
            session.ended.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            session.ended.complete(Status.OK);
          }
        });
    session.requests.onNext(AgentMessage.newBuilder().setHello(Hello.newBuilder()
        .setProtocolVersion(ProtocolVersion.currentMessage()).setAgentName(agentName)
        .setMaxJobs(Math.max(1, freeSlots)).setFreeSlots(freeSlots)
        .setTerraform(dev.outpost.proto.v1.TerraformBinary.newBuilder().setName("terraform")
            .setVersion(terraformVersion))).build());
    return session;
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
