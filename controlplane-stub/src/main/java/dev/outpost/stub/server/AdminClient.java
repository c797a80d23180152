package dev.outpost.stub.server;

import dev.outpost.proto.Payloads;
import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.SubmitJobRequest;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import dev.outpost.proto.v1.AdminGrpc;
import io.grpc.CallCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/** A connection to a stub's Admin listener, authenticated with the admin token. */
public final class AdminClient implements AutoCloseable {
  private final ManagedChannel channel;
  private final String token;

  public AdminClient(String target, String token) {
    this.channel = Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
        .maxInboundMessageSize(8 << 20).build();
    this.token = token;
  }

  /** A blocking stub; each call gets the given deadline. */
  public AdminGrpc.AdminBlockingStub blocking(long deadlineSeconds) {
    return AdminGrpc.newBlockingStub(channel).withCallCredentials(credentials())
        .withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS);
  }

  /** A blocking stub without a deadline, for streams that follow a running job. */
  public AdminGrpc.AdminBlockingStub following() {
    return AdminGrpc.newBlockingStub(channel).withCallCredentials(credentials());
  }

  public AdminGrpc.AdminStub async(long deadlineSeconds) {
    return AdminGrpc.newStub(channel).withCallCredentials(credentials())
        .withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS);
  }

  private CallCredentials credentials() {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(ProtocolVersion.AUTHORIZATION, "Bearer " + token);
        headers.put(ProtocolVersion.HEADER, ProtocolVersion.current());
        applier.apply(headers);
      }
    };
  }

  /** {@link #submit} without waiting: completes with the queued job (or the call's failure). */
  public CompletableFuture<Job> submitAsync(SubmitJobHeader header, byte[] archive)
      throws IOException {
    CompletableFuture<Job> result = new CompletableFuture<>();
    StreamObserver<SubmitJobRequest> requests = async(60).submitJob(new StreamObserver<>() {
      @Override
      public void onNext(Job job) {
        result.complete(job);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    requests.onNext(SubmitJobRequest.newBuilder().setHeader(header).build());
    Payloads.send(PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE, new ByteArrayInputStream(archive),
        chunk -> requests.onNext(SubmitJobRequest.newBuilder().setChunk(chunk).build()));
    requests.onCompleted();
    return result;
  }

  /** Streams a job's header and source archive; returns the queued job. */
  public Job submit(SubmitJobHeader header, byte[] archive) throws IOException {
    CompletableFuture<Job> result = submitAsync(header, archive);
    try {
      return result.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException(e.getCause());
    } catch (TimeoutException e) {
      throw new IOException("the stub did not answer the submission within 60 s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while submitting", e);
    }
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
