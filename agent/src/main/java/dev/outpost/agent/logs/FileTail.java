package dev.outpost.agent.logs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;

/**
 * Reads complete lines that a process appends to a file, from a byte offset on. The offset is
 * what a restarted agent resumes from, so it only ever advances past whole lines (or past the
 * last partial line once the writer has finished).
 */
final class FileTail {
  private final Path file;
  private long offset;
  private byte[] partial = new byte[0];
  private final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);

  FileTail(Path file, long offset) {
    this.file = file;
    this.offset = offset;
  }

  long offset() {
    return offset;
  }

  /**
   * Hands every new complete line (without its newline) to {@code lines}; with {@code finished},
   * also the last line when it lacks a newline. Returns the number of lines read.
   */
  int poll(boolean finished, Consumer<String> lines) throws IOException {
    int count = 0;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ch.position(offset + partial.length);
      while (true) {
        buffer.clear();
        int n = ch.read(buffer);
        if (n <= 0) {
          break;
        }
        byte[] data = new byte[partial.length + n];
        System.arraycopy(partial, 0, data, 0, partial.length);
        System.arraycopy(buffer.array(), 0, data, partial.length, n);
        int start = 0;
        for (int i = 0; i < data.length; i++) {
          if (data[i] == '\n') {
            int end = i > start && data[i - 1] == '\r' ? i - 1 : i;
            lines.accept(new String(data, start, end - start, StandardCharsets.UTF_8));
            offset += i + 1 - start;
            start = i + 1;
            count++;
          }
        }
        partial = java.util.Arrays.copyOfRange(data, start, data.length);
      }
    } catch (NoSuchFileException e) {
      return 0;
    }
    if (finished && partial.length > 0) {
      lines.accept(new String(partial, StandardCharsets.UTF_8));
      offset += partial.length;
      partial = new byte[0];
      count++;
    }
    return count;
  }

  boolean exists() {
    return Files.exists(file);
  }
}
