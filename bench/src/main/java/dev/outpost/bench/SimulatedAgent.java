package dev.outpost.bench;

import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.v1.AgentMessage;
import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.CompleteJobResponse;
import dev.outpost.proto.v1.DownloadPayloadRequest;
import dev.outpost.proto.v1.Hello;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.JobOutcome;
import dev.outpost.proto.v1.PayloadChunk;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.ProvisionerGrpc;
import dev.outpost.proto.v1.ServerMessage;
import dev.outpost.proto.v1.SlotsAvailable;
import dev.outpost.proto.v1.TerraformBinary;
import dev.outpost.proto.v1.Welcome;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * One simulated agent: a distinct identity (its own client certificate), its own TLS connection,
 * and a Connect session like the real agent's (Hello with one slot, the same keepalive). On an
 * assignment it does what a job costs the control plane and nothing else: downloads the source
 * archive, completes the job as succeeded, reports its slot free again.
 */
final class SimulatedAgent {
  /** What the benchmark learns from the agents. */
  interface Events {
    /** An assignment arrived; {@code at} is this machine's clock when it was read off the stream. */
    void assigned(JobAssignment assignment, Instant at, long atNanos);

    void completed(String jobId);

    void failed(String agent, Throwable cause);
  }

  private final String name;
  private final ManagedChannel channel;
  private final ProvisionerGrpc.ProvisionerStub stub;
  private final Events events;
  private final CompletableFuture<Welcome> welcome = new CompletableFuture<>();
  private final CompletableFuture<Void> ended = new CompletableFuture<>();
  private ClientCallStreamObserver<AgentMessage> session;

  SimulatedAgent(String name, InetSocketAddress stubAddress, SslContext tls, EventLoopGroup loop,
      Executor executor, String orgKey, Events events) {
    this.name = name;
    this.events = events;
    // The real agent's channel settings (ControlPlaneClient), on a shared event loop and
    // executor so that a thousand of them fit in one light process.
    this.channel = NettyChannelBuilder.forAddress(stubAddress).overrideAuthority("localhost")
        .sslContext(tls).eventLoopGroup(loop).channelType(NioSocketChannel.class)
        .executor(executor).keepAliveTime(10, TimeUnit.SECONDS)
        .keepAliveTimeout(5, TimeUnit.SECONDS).keepAliveWithoutCalls(true)
        .maxInboundMessageSize(8 << 20).build();
    Metadata headers = new Metadata();
    headers.put(ProtocolVersion.HEADER, ProtocolVersion.current());
    headers.put(ProtocolVersion.AUTHORIZATION, "Bearer " + orgKey);
    this.stub = ProvisionerGrpc.newStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** Opens the session and sends Hello; the future completes with the server's Welcome. */
  CompletableFuture<Welcome> connect() {
    stub.connect(new ClientResponseObserver<AgentMessage, ServerMessage>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<AgentMessage> requests) {
        session = requests;
      }

      @Override
      public void onNext(ServerMessage message) {
        switch (message.getMessageCase()) {
          case WELCOME -> welcome.complete(message.getWelcome());
          case ASSIGNMENT -> {
            events.assigned(message.getAssignment(), Instant.now(), System.nanoTime());
            run(message.getAssignment());
          }
          default -> { }
        }
      }

      @Override
      public void onError(Throwable t) {
        welcome.completeExceptionally(t);
        ended.complete(null);
      }

      @Override
      public void onCompleted() {
        welcome.completeExceptionally(new IllegalStateException("session closed by the stub"));
        ended.complete(null);
      }
    });
    send(AgentMessage.newBuilder().setHello(Hello.newBuilder()
        .setProtocolVersion(ProtocolVersion.currentMessage()).setAgentName(name)
        .setMaxJobs(1).setFreeSlots(1)
        .setTerraform(TerraformBinary.newBuilder().setName("terraform").setVersion("1.11.4"))
        .setAgentVersion("bench")).build());
    return welcome;
  }

  /** True while the session is open: keepalive or the stub has not dropped it. */
  boolean connected() {
    return welcome.isDone() && !welcome.isCompletedExceptionally() && !ended.isDone();
  }

  private void run(JobAssignment assignment) {
    stub.withDeadlineAfter(30, TimeUnit.SECONDS).downloadPayload(DownloadPayloadRequest
        .newBuilder().setLease(assignment.getLease())
        .setKind(PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE).build(), new StreamObserver<>() {
          @Override
          public void onNext(PayloadChunk chunk) {}

          @Override
          public void onError(Throwable t) {
            events.failed(name, t);
          }

          @Override
          public void onCompleted() {
            complete(assignment);
          }
        });
  }

  private void complete(JobAssignment assignment) {
    // The least a result can be: an outcome, no state, no log (a template import that found
    // nothing to describe).
    CompleteJobRequest result = CompleteJobRequest.newBuilder().setLease(assignment.getLease())
        .setOutcome(JobOutcome.JOB_OUTCOME_SUCCEEDED).setExitCode(0).build();
    stub.withDeadlineAfter(30, TimeUnit.SECONDS).completeJob(result, new StreamObserver<>() {
      @Override
      public void onNext(CompleteJobResponse response) {
        if (!response.getAcknowledged()) {
          events.failed(name, new IllegalStateException("job "
              + assignment.getLease().getJobId() + ": result not acknowledged"));
        }
      }

      @Override
      public void onError(Throwable t) {
        events.failed(name, t);
      }

      @Override
      public void onCompleted() {
        send(AgentMessage.newBuilder().setSlots(SlotsAvailable.newBuilder().setFreeSlots(1))
            .build());
        events.completed(assignment.getLease().getJobId());
      }
    });
  }

  /** gRPC request streams are not thread-safe: Hello and slot reports come from two threads. */
  private synchronized void send(AgentMessage message) {
    session.onNext(message);
  }

  /** Ends the session as the agent does when it stops, and closes the connection. */
  void close() {
    synchronized (this) {
      if (session != null) {
        session.cancel("benchmark finished", null);
      }
    }
    channel.shutdownNow();
  }

  void awaitClosed() throws InterruptedException {
    channel.awaitTermination(5, TimeUnit.SECONDS);
  }
}
