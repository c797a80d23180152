package dev.outpost.agent.daemon;

import dev.outpost.agent.job.JobCalls;
import dev.outpost.proto.Payloads;
import dev.outpost.proto.v1.AppendLogsRequest;
import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.CompleteJobResponse;
import dev.outpost.proto.v1.DownloadPayloadRequest;
import dev.outpost.proto.v1.LeaseRef;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.PayloadChunk;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.UploadHeader;
import dev.outpost.proto.v1.UploadPayloadRequest;
import dev.outpost.proto.v1.UploadPayloadResponse;
import io.grpc.stub.StreamObserver;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/** {@link JobCalls} over gRPC, every call naming the job's lease. */
final class LeaseCalls implements JobCalls {
  private final ControlPlaneClient client;
  private final LeaseRef lease;

  LeaseCalls(ControlPlaneClient client, LeaseRef lease) {
    this.client = client;
    this.lease = lease;
  }

  @Override
  public void download(PayloadKind kind, Path target) throws Exception {
    Path tmp = target.resolveSibling(target.getFileName() + ".part");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      Payloads.Receiver receiver = new Payloads.Receiver(out, Long.MAX_VALUE);
      Iterator<PayloadChunk> chunks = client.blocking(ControlPlaneClient.TRANSFER_DEADLINE)
          .downloadPayload(DownloadPayloadRequest.newBuilder().setLease(lease).setKind(kind).build());
      while (chunks.hasNext()) {
        receiver.accept(chunks.next());
      }
      receiver.complete();
    } catch (Exception e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  @Override
  public PayloadRef upload(PayloadKind kind, Path source) throws Exception {
    PayloadRef ref;
    try (InputStream in = Files.newInputStream(source)) {
      ref = Payloads.ref(kind, in.readAllBytes());
    }
    CompletableFuture<UploadPayloadResponse> done = new CompletableFuture<>();
    StreamObserver<UploadPayloadRequest> requests = client.async(ControlPlaneClient.TRANSFER_DEADLINE)
        .uploadPayload(new StreamObserver<>() {
          @Override
          public void onNext(UploadPayloadResponse value) {
            done.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(UploadPayloadRequest.newBuilder().setHeader(UploadHeader.newBuilder()
        .setLease(lease).setPayload(ref)).build());
    try (InputStream in = Files.newInputStream(source)) {
      Payloads.send(kind, in,
          chunk -> requests.onNext(UploadPayloadRequest.newBuilder().setChunk(chunk).build()));
    }
    requests.onCompleted();
    try {
      return done.get().getStored();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception c ? c : e;
    }
  }

  @Override
  public long appendLogs(List<LogEntry> batch) {
    return client.logs(ControlPlaneClient.CALL_DEADLINE).appendLogs(AppendLogsRequest
        .newBuilder().setLease(lease).addAllEntries(batch).build()).getAckedSeq();
  }

  @Override
  public CompleteJobResponse complete(CompleteJobRequest request) {
    return client.blocking(ControlPlaneClient.CALL_DEADLINE).completeJob(request);
  }
}
