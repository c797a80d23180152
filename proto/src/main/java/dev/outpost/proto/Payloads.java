package dev.outpost.proto;

import com.google.protobuf.ByteString;
import dev.outpost.proto.v1.PayloadChunk;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.function.Consumer;

/**
 * Splits payloads into {@link PayloadChunk}s and reassembles them with offset and digest checks,
 * the same way on both sides of the wire.
 */
public final class Payloads {
  /** Chunk size: far below gRPC's 4 MiB default message limit, large enough to be cheap. */
  public static final int CHUNK_SIZE = 1 << 20;

  private Payloads() {}

  public static PayloadRef ref(PayloadKind kind, byte[] data) {
    return PayloadRef.newBuilder().setKind(kind).setSize(data.length).setSha256(sha256(data)).build();
  }

  public static PayloadRef none(PayloadKind kind) {
    return PayloadRef.newBuilder().setKind(kind).build();
  }

  public static boolean isPresent(PayloadRef ref) {
    return !ref.getSha256().isEmpty();
  }

  /** Checks bytes that arrived whole (not through a {@link Receiver}) against their reference. */
  public static void verify(PayloadRef expected, byte[] data) throws IOException {
    String actual = sha256(data);
    if (data.length != expected.getSize() || !actual.equals(expected.getSha256())) {
      throw new IOException(expected.getKind() + " has " + data.length + " bytes with sha256 "
          + actual + " but " + expected.getSize() + " bytes with sha256 " + expected.getSha256()
          + " were announced");
    }
  }

  public static String sha256(byte[] data) {
    MessageDigest digest = newDigest();
    digest.update(data);
    return HexFormat.of().formatHex(digest.digest());
  }

  /**
   * Reads {@code in} to its end and hands out chunks; the last one (possibly with empty data)
   * carries the trailer with the size and digest of everything sent.
   */
  public static PayloadRef send(PayloadKind kind, InputStream in, Consumer<PayloadChunk> out)
      throws IOException {
    MessageDigest digest = newDigest();
    byte[] buffer = new byte[CHUNK_SIZE];
    long offset = 0;
    byte[] pending = null;
    int n;
    while ((n = in.readNBytes(buffer, 0, buffer.length)) > 0) {
      if (pending != null) {
        out.accept(PayloadChunk.newBuilder().setOffset(offset - pending.length)
            .setData(ByteString.copyFrom(pending)).build());
      }
      digest.update(buffer, 0, n);
      pending = java.util.Arrays.copyOf(buffer, n);
      offset += n;
    }
    PayloadRef trailer = PayloadRef.newBuilder().setKind(kind).setSize(offset)
        .setSha256(HexFormat.of().formatHex(digest.digest())).build();
    PayloadChunk.Builder last = PayloadChunk.newBuilder().setTrailer(trailer);
    if (pending != null) {
      last.setOffset(offset - pending.length).setData(ByteString.copyFrom(pending));
    } else {
      last.setOffset(offset);
    }
    out.accept(last.build());
    return trailer;
  }

  /** Reassembles chunks into an output stream, checking order, size and digest. */
  public static final class Receiver {
    private final OutputStream out;
    private final MessageDigest digest = newDigest();
    private final long maxBytes;
    private long received;
    private PayloadRef trailer;

    public Receiver(OutputStream out, long maxBytes) {
      this.out = out;
      this.maxBytes = maxBytes;
    }

    /** Accepts the next chunk; throws {@link IllegalArgumentException} naming what is wrong. */
    public void accept(PayloadChunk chunk) throws IOException {
      if (trailer != null) {
        throw new IllegalArgumentException("payload chunk after the final chunk");
      }
      if (chunk.getOffset() != received) {
        throw new IllegalArgumentException(
            "payload chunk at offset " + chunk.getOffset() + ", expected " + received);
      }
      received += chunk.getData().size();
      if (received > maxBytes) {
        throw new IllegalArgumentException(
            "payload exceeds the configured limit of " + maxBytes + " bytes");
      }
      chunk.getData().writeTo(out);
      for (var bb : chunk.getData().asReadOnlyByteBufferList()) {
        digest.update(bb);
      }
      if (chunk.hasTrailer()) {
        PayloadRef t = chunk.getTrailer();
        String actual = HexFormat.of().formatHex(digest.digest());
        if (t.getSize() != received || !t.getSha256().equals(actual)) {
          throw new IllegalArgumentException("payload digest mismatch: announced " + t.getSize()
              + " bytes sha256 " + t.getSha256() + ", received " + received + " bytes sha256 "
              + actual);
        }
        trailer = t;
      }
    }

    /** The verified trailer; throws when the final chunk has not arrived. */
    public PayloadRef complete() {
      if (trailer == null) {
        throw new IllegalArgumentException(
            "payload ended after " + received + " bytes without its final chunk");
      }
      return trailer;
    }
  }

  private static MessageDigest newDigest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
