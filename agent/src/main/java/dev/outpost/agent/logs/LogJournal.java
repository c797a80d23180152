package dev.outpost.agent.logs;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32;

/**
 * Where one job's log stands, kept in the agent's state directory so that a restarted agent
 * resends exactly what the control plane does not have.
 *
 * <p>The log's lines live in files: Terraform's output files in the job directory and
 * {@value #AGENT_LOG}, the agent's own messages about the job, written here before they are
 * read like any other output. Before a batch of entries is sent, a checkpoint is appended to
 * {@value #JOURNAL} and forced to disk: the sequence that follows the batch and, for every file,
 * the offset just past the last line in it. The control plane stores a batch whole or not at
 * all, so the sequence it acknowledges always ends at a checkpoint; a restarted agent reads
 * every file on from that checkpoint, and what it numbers from there is new to the control
 * plane. A torn last record (the agent died while writing it) belongs to a batch never sent and
 * is ignored.
 */
public final class LogJournal implements AutoCloseable {
  public static final String AGENT_LOG = "agent.log";
  public static final String JOURNAL = "journal";
  private static final int MAGIC = 0x4f4c4a31; // "OLJ1"

  /** The sequence and line id after a batch, and the offset after its last line per file. */
  public record Checkpoint(long nextSeq, long nextLineId, Map<String, Long> positions) {
    public static final Checkpoint START = new Checkpoint(1, 1, Map.of());

    public Checkpoint {
      positions = Collections.unmodifiableMap(new TreeMap<>(positions));
    }

    public long lastSeq() {
      return nextSeq - 1;
    }
  }

  private final Path dir;
  private final Object agentLock = new Object();
  private OutputStream agentOut;
  private FileChannel journal;
  /** Closed: no checkpoint is written any more (the pipeline's sender may still try one). */
  private boolean closed;

  public LogJournal(Path dir) throws IOException {
    this.dir = dir;
    Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rwx------")));
  }

  public Path agentLog() {
    return dir.resolve(AGENT_LOG);
  }

  /** Appends one line to the agent's message file (no fsync: it only has to outlive the JVM). */
  void appendAgentLine(String line) throws IOException {
    synchronized (agentLock) {
      if (agentOut == null) {
        agentOut = Files.newOutputStream(agentLog(), StandardOpenOption.CREATE,
            StandardOpenOption.APPEND, StandardOpenOption.WRITE);
      }
      agentOut.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      agentOut.flush();
    }
  }

  /** The last line of the agent's message file, or "" (to avoid writing a message twice). */
  String lastAgentLine() throws IOException {
    synchronized (agentLock) {
      try (FileChannel ch = FileChannel.open(agentLog(), StandardOpenOption.READ)) {
        long size = ch.size();
        int n = (int) Math.min(size, 256 * 1024);
        ByteBuffer buf = ByteBuffer.allocate(n);
        ch.read(buf, size - n);
        String text = new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
        if (text.endsWith("\n")) {
          text = text.substring(0, text.length() - 1);
        }
        return text.substring(text.lastIndexOf('\n') + 1);
      } catch (NoSuchFileException e) {
        return "";
      }
    }
  }

  /** Appends a checkpoint and forces it to disk, before the batch it ends is sent. */
  synchronized void record(Checkpoint c) throws IOException {
    if (closed) {
      throw new IOException("the log journal in " + dir + " is closed");
    }
    if (journal == null) {
      journal = FileChannel.open(dir.resolve(JOURNAL), StandardOpenOption.CREATE,
          StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(body);
    out.writeLong(c.nextSeq());
    out.writeLong(c.nextLineId());
    out.writeInt(c.positions().size());
    for (Map.Entry<String, Long> e : c.positions().entrySet()) {
      out.writeUTF(e.getKey());
      out.writeLong(e.getValue());
    }
    out.flush();
    byte[] bytes = body.toByteArray();
    CRC32 crc = new CRC32();
    crc.update(bytes);
    ByteBuffer record = ByteBuffer.allocate(12 + bytes.length);
    record.putInt(MAGIC).putInt(bytes.length).putInt((int) crc.getValue()).put(bytes).flip();
    while (record.hasRemaining()) {
      journal.write(record);
    }
    journal.force(false);
  }

  /**
   * The checkpoint that ends at {@code acked}, the highest sequence the control plane has
   * stored. Without an exact match (the journal was lost) the nearest earlier one.
   */
  public Checkpoint resumeAt(long acked) throws IOException {
    Checkpoint best = Checkpoint.START;
    try (InputStream raw = Files.newInputStream(dir.resolve(JOURNAL));
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(raw))) {
      while (true) {
        Checkpoint c = readRecord(in);
        if (c == null) {
          break;
        }
        if (c.lastSeq() <= acked && c.lastSeq() >= best.lastSeq()) {
          best = c;
        }
      }
    } catch (NoSuchFileException e) {
      return best;
    }
    return best;
  }

  private static Checkpoint readRecord(DataInputStream in) throws IOException {
    try {
      if (in.readInt() != MAGIC) {
        return null;
      }
      int length = in.readInt();
      int crc = in.readInt();
      if (length < 0 || length > (1 << 24)) {
        return null;
      }
      byte[] bytes = in.readNBytes(length);
      CRC32 check = new CRC32();
      check.update(bytes);
      if (bytes.length != length || (int) check.getValue() != crc) {
        return null;
      }
      DataInputStream body = new DataInputStream(new java.io.ByteArrayInputStream(bytes));
      long nextSeq = body.readLong();
      long nextLineId = body.readLong();
      int n = body.readInt();
      Map<String, Long> positions = new TreeMap<>();
      for (int i = 0; i < n; i++) {
        positions.put(body.readUTF(), body.readLong());
      }
      return new Checkpoint(nextSeq, nextLineId, positions);
    } catch (EOFException e) {
      return null;
    }
  }

  @Override
  public void close() throws IOException {
    synchronized (agentLock) {
      if (agentOut != null) {
        agentOut.close();
        agentOut = null;
      }
    }
    synchronized (this) {
      closed = true;
      if (journal != null) {
        journal.close();
        journal = null;
      }
    }
  }
}
