package dev.outpost.stub.server;

import dev.outpost.proto.Payloads;
import dev.outpost.proto.v1.PayloadChunk;
import dev.outpost.proto.v1.PayloadRef;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * A client stream of one header followed by payload chunks (job submission, result upload):
 * checks the header when it arrives, reassembles the chunks with their offsets, size limit and
 * digest, and answers once. The first problem ends the call with a status naming it.
 *
 * @param <Q> the request message
 * @param <H> its header
 * @param <R> the response
 */
abstract class ChunkedRequests<Q, H, R> implements StreamObserver<Q> {
  private final StreamObserver<R> responses;
  private final long maxBytes;
  private final String what;
  private H header;
  private ByteArrayOutputStream bytes;
  private Payloads.Receiver receiver;
  private boolean failed;

  ChunkedRequests(StreamObserver<R> responses, long maxBytes, String what) {
    this.responses = responses;
    this.maxBytes = maxBytes;
    this.what = what;
  }

  /** The header, when {@code request} is one; else null. */
  abstract H header(Q request);

  /** The chunk, when {@code request} is one; else null. */
  abstract PayloadChunk chunk(Q request);

  /** Checks the header; returns the size it announces, or -1 when it announces none. */
  abstract long accept(H header) throws StatusException;

  /** Acts on the complete, verified payload; the answer to the call. */
  abstract R complete(H header, byte[] data, PayloadRef trailer) throws StatusException;

  @Override
  public final void onNext(Q request) {
    if (failed) {
      return;
    }
    try {
      if (header == null) {
        H h = header(request);
        if (h == null) {
          throw Status.INVALID_ARGUMENT.withDescription("a " + what + " starts with its header")
              .asException();
        }
        long announced = accept(h);
        if (announced > maxBytes) {
          throw Status.INVALID_ARGUMENT.withDescription(what + " of " + announced
              + " bytes exceeds the limit of " + maxBytes).asException();
        }
        header = h;
        // The announced size is the peer's claim, not a reason to allocate it up front.
        bytes = new ByteArrayOutputStream((int) Math.max(0,
            Math.min(announced, Payloads.CHUNK_SIZE)));
        receiver = new Payloads.Receiver(bytes, maxBytes);
      } else {
        PayloadChunk chunk = chunk(request);
        if (chunk != null) {
          receiver.accept(chunk);
        }
      }
    } catch (StatusException e) {
      fail(e);
    } catch (IllegalArgumentException | IOException e) {
      fail(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException());
    }
  }

  private void fail(StatusException e) {
    failed = true;
    responses.onError(e);
  }

  @Override
  public final void onError(Throwable t) {
    failed = true;
  }

  @Override
  public final void onCompleted() {
    if (failed) {
      return;
    }
    try {
      if (header == null) {
        throw Status.INVALID_ARGUMENT.withDescription("empty " + what).asException();
      }
      R answer = complete(header, bytes.toByteArray(), receiver.complete());
      responses.onNext(answer);
      responses.onCompleted();
    } catch (StatusException e) {
      responses.onError(e);
    } catch (IllegalArgumentException e) {
      responses.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException());
    }
  }
}
