package dev.outpost.agent.logs;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads complete lines that a process appends to a file, from a byte offset on. The offset is
 * what a restarted agent resumes from, so it only ever advances past whole lines (or past the
 * last partial line once the writer has finished).
 */
final class FileTail {
  /**
   * Receives one line: its bytes ({@code bytes[from, to)}, without the newline; the array is
   * never written after the call, so the sink may keep it instead of a copy), whether they are
   * all ASCII (found while looking for the newline), its offset and the offset just past it.
   */
  interface LineSink {
    void line(byte[] bytes, int from, int to, boolean ascii, long start, long end);
  }

  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long NEWLINES = 0x0a0a0a0a0a0a0a0aL;
  private static final long LOW_SEVEN = 0x7f7f7f7f7f7f7f7fL;
  private static final long HIGH_BITS = 0x8080808080808080L;

  private final Path file;
  private long offset;
  private byte[] partial = new byte[0];
  private final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
  /** Open from the first look that finds the file until {@link #close}: one open per file. */
  private FileChannel channel;

  FileTail(Path file, long offset) {
    this.file = file;
    this.offset = offset;
  }

  long offset() {
    return offset;
  }

  /**
   * Hands new complete lines to {@code sink}, reading at most about {@code maxBytes}; with
   * {@code finished}, also the last line when it lacks a newline. Returns true when the end of
   * the file was reached (a missing file counts as ended).
   */
  boolean poll(boolean finished, long maxBytes, LineSink sink) throws IOException {
    long read = 0;
    boolean end = false;
    if (channel == null) {
      try {
        channel = FileChannel.open(file, StandardOpenOption.READ);
      } catch (NoSuchFileException e) {
        return true;
      }
    }
    while (true) {
      if (read >= maxBytes) {
        break;
      }
      buffer.clear();
      int n = channel.read(buffer, offset + partial.length);
      if (n <= 0) {
        end = true;
        break;
      }
      read += n;
      // Exactly the bytes at hand, in an array of their own (lines may keep it: see LineSink).
      byte[] data = new byte[partial.length + n];
      System.arraycopy(partial, 0, data, 0, partial.length);
      System.arraycopy(buffer.array(), 0, data, partial.length, n);
      int start = scan(data, sink);
      partial = java.util.Arrays.copyOfRange(data, start, data.length);
    }
    if (end && finished && partial.length > 0) {
      long lineStart = offset;
      offset += partial.length;
      byte[] last = partial;
      partial = new byte[0];
      sink.line(last, 0, last.length, ascii(last), lineStart, offset);
    }
    return end;
  }

  /**
   * Hands every line of {@code data} that ends in a newline to the sink (advancing the offset)
   * and returns where the rest starts. Eight bytes are looked at a time: a word with no
   * newline only adds its bits to the line's, and a word with one gives its position at once.
   */
  private int scan(byte[] data, LineSink sink) {
    int start = 0;
    int i = 0;
    long high = 0; // the bits of every byte of the line so far: bit 7 of a byte: not ASCII
    for (int last = data.length - Long.BYTES; i <= last; ) {
      long word = (long) LONGS.get(data, i);
      long x = word ^ NEWLINES;
      // Bit 7 of each byte of x: set when that byte of x is not zero (no carry crosses bytes).
      long newlines = ~(((x & LOW_SEVEN) + LOW_SEVEN) | x | LOW_SEVEN);
      if (newlines == 0) {
        high |= word;
        i += Long.BYTES;
        continue;
      }
      int before = Long.numberOfTrailingZeros(newlines) >>> 3; // bytes before the newline
      high |= word & ((1L << (before << 3)) - 1);
      start = line(data, start, i + before, (high & HIGH_BITS) == 0, sink);
      high = 0;
      i = start;
    }
    for (; i < data.length; i++) {
      byte b = data[i];
      if (b == '\n') {
        start = line(data, start, i, (high & HIGH_BITS) == 0, sink);
        high = 0;
      } else {
        high |= b;
      }
    }
    return start;
  }

  /** The line {@code data[start, newline)}; returns where the next one starts. */
  private int line(byte[] data, int start, int newline, boolean ascii, LineSink sink) {
    int stop = newline > start && data[newline - 1] == '\r' ? newline - 1 : newline;
    long lineStart = offset;
    offset += newline + 1 - start;
    sink.line(data, start, stop, ascii, lineStart, offset);
    return newline + 1;
  }

  private static boolean ascii(byte[] bytes) {
    for (byte b : bytes) {
      if (b < 0) {
        return false;
      }
    }
    return true;
  }

  /** Closes the file, if it was opened; a later {@link #poll} opens it again. */
  void close() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // read-only: nothing was lost
      }
      channel = null;
    }
  }
}
