package dev.outpost.stub.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.Variable;
import dev.outpost.proto.v1.WorkspaceRef;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The stored form of the store's records: a version byte, then the fields in order (protobuf
 * messages as length-prefixed bytes). Written and read only by {@link DatabaseStore}.
 */
final class RecordCodec {
  private static final int VERSION = 1;

  private RecordCodec() {}

  static byte[] key(KeyRecord k) {
    return write(out -> {
      out.writeUTF(k.id());
      out.writeUTF(k.org());
      bytes(out, k.hash());
      string(out, k.description());
      out.writeInt(k.tags().size());
      for (Map.Entry<String, String> e : k.tags().entrySet()) {
        out.writeUTF(e.getKey());
        out.writeUTF(e.getValue());
      }
      instant(out, k.createdAt());
      instant(out, k.expiresAt());
      instant(out, k.revokedAt());
    });
  }

  static KeyRecord key(byte[] data) {
    return read(data, in -> {
      String id = in.readUTF();
      String org = in.readUTF();
      byte[] hash = bytes(in);
      String description = string(in);
      int n = in.readInt();
      Map<String, String> tags = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        tags.put(in.readUTF(), in.readUTF());
      }
      return new KeyRecord(id, org, hash, description, tags, instant(in), instant(in),
          instant(in));
    });
  }

  static byte[] workspace(WorkspaceRecord w) {
    return write(out -> {
      bytes(out, w.ref().toByteArray());
      bytes(out, w.state().toByteArray());
      out.writeLong(w.serial());
      out.writeUTF(w.lineage());
      out.writeUTF(w.activeJobId());
    });
  }

  static WorkspaceRecord workspace(byte[] data) {
    return read(data, in -> new WorkspaceRecord(WorkspaceRef.parseFrom(bytes(in)),
        PayloadRef.parseFrom(bytes(in)), in.readLong(), in.readUTF(), in.readUTF()));
  }

  static byte[] job(JobRecord j) {
    return write(out -> {
      bytes(out, j.view().toByteArray());
      out.writeInt(j.variables().size());
      for (Variable v : j.variables()) {
        bytes(out, v.toByteArray());
      }
      string(out, j.leaseId());
      string(out, j.leaseAgentId());
      instant(out, j.leaseExpiresAt());
      out.writeLong(j.lastLogSeq());
    });
  }

  static JobRecord job(byte[] data) {
    return read(data, in -> {
      Job view = Job.parseFrom(bytes(in));
      int n = in.readInt();
      List<Variable> variables = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        variables.add(Variable.parseFrom(bytes(in)));
      }
      return new JobRecord(view, variables, string(in), string(in), instant(in), in.readLong());
    });
  }

  static byte[] certificate(IssuedCertificate c) {
    return write(out -> {
      out.writeUTF(c.serial());
      out.writeUTF(c.org());
      out.writeUTF(c.agentName());
      string(out, c.keyId());
      instant(out, c.notBefore());
      instant(out, c.notAfter());
      instant(out, c.issuedAt());
    });
  }

  static IssuedCertificate certificate(byte[] data) {
    return read(data, in -> new IssuedCertificate(in.readUTF(), in.readUTF(), in.readUTF(),
        string(in), instant(in), instant(in), instant(in)));
  }

  private interface Writer {
    void write(DataOutputStream out) throws IOException;
  }

  private interface Reader<T> {
    T read(DataInputStream in) throws IOException;
  }

  private static byte[] write(Writer writer) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(VERSION);
      writer.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static <T> T read(byte[] data, Reader<T> reader) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
      int version = in.readUnsignedByte();
      if (version != VERSION) {
        throw new IllegalStateException("stored record has format version " + version
            + "; this stub reads version " + VERSION);
      }
      return reader.read(in);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("stored record is corrupt: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new IllegalStateException("stored record is truncated or corrupt", e);
    }
  }

  private static void bytes(DataOutputStream out, byte[] b) throws IOException {
    out.writeInt(b.length);
    out.write(b);
  }

  private static byte[] bytes(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > in.available()) {
      throw new IOException("field length " + n + " exceeds the record");
    }
    return in.readNBytes(n);
  }

  private static void string(DataOutputStream out, String s) throws IOException {
    out.writeBoolean(s != null);
    if (s != null) {
      out.writeUTF(s);
    }
  }

  private static String string(DataInputStream in) throws IOException {
    return in.readBoolean() ? in.readUTF() : null;
  }

  private static void instant(DataOutputStream out, Instant t) throws IOException {
    out.writeBoolean(t != null);
    if (t != null) {
      out.writeLong(t.getEpochSecond());
      out.writeInt(t.getNano());
    }
  }

  private static Instant instant(DataInputStream in) throws IOException {
    return in.readBoolean() ? Instant.ofEpochSecond(in.readLong(), in.readInt()) : null;
  }
}
