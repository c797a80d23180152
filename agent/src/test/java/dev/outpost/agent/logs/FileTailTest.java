package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file reader's lines (which it finds eight bytes at a time) against a plain split of the
 * same bytes: the same lines, the same ASCII verdicts and the same offsets, however the file
 * grew between two looks.
 */
class FileTailTest {
  /** Newlines and carriage returns often, ASCII mostly, bytes with bit 7 set now and then. */
  private static final byte[] ALPHABET = {'\n', '\n', '\r', 'a', 'b', '{', '"', ' ', '0',
      (byte) 0xc3, (byte) 0xa9, (byte) 0xff, (byte) 0x80};

  private record Line(String bytes, boolean ascii, long start, long end) {}

  @Property(tries = 300)
  void linesAndOffsets_matchAPlainSplit_howeverTheFileGrows(@ForAll long seed)
      throws IOException {
    Random r = new Random(seed);
    byte[] content = new byte[r.nextInt(3000)];
    for (int i = 0; i < content.length; i++) {
      // Runs of ordinary bytes between the special ones, so that lines span several words.
      content[i] = r.nextInt(4) == 0 ? ALPHABET[r.nextInt(ALPHABET.length)]
          : (byte) ('c' + r.nextInt(20));
    }
    Path dir = Files.createTempDirectory("tail");
    try {
      assertThat(read(dir.resolve("out"), content, r)).isEqualTo(plainSplit(content));
    } finally {
      Files.deleteIfExists(dir.resolve("out"));
      Files.delete(dir);
    }
  }

  @Test
  void aFileLongerThanOneRead_givesEveryLineOnce(@TempDir Path dir) throws IOException {
    // 64 KiB is one read: lines cross from one read to the next.
    byte[] content = new byte[300_000];
    Random r = new Random(7);
    for (int i = 0; i < content.length; i++) {
      content[i] = r.nextInt(97) == 0 ? (byte) '\n' : (byte) ('a' + r.nextInt(26));
    }
    content[1234] = (byte) 0xe2;
    content[content.length - 1] = '\n';

    List<Line> lines = read(dir.resolve("out"), content, r);

    assertThat(lines).isEqualTo(plainSplit(content));
    assertThat(lines.get(lines.size() - 1).end()).isEqualTo(content.length);
    assertThat(lines.stream().filter(l -> !l.ascii())).hasSize(1);
  }

  /**
   * Appends {@code content} in random pieces, looking after each (sometimes twice); the last
   * look is told the writer has finished.
   */
  private static List<Line> read(Path file, byte[] content, Random r) throws IOException {
    List<Line> lines = new ArrayList<>();
    FileTail.LineSink sink = (bytes, from, to, ascii, start, end) ->
        lines.add(new Line(hex(Arrays.copyOfRange(bytes, from, to)), ascii, start, end));
    FileTail tail = new FileTail(file, 0);
    try {
      assertThat(tail.poll(false, Long.MAX_VALUE, sink)).as("a missing file counts as ended")
          .isTrue();
      Files.createFile(file);
      try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.APPEND)) {
        for (int at = 0; at < content.length; ) {
          int n = Math.min(content.length - at, 1 + r.nextInt(r.nextBoolean() ? 16 : 700));
          out.write(content, at, n);
          out.flush();
          at += n;
          for (int looks = 1 + r.nextInt(2); looks > 0; looks--) {
            tail.poll(false, 1 + r.nextInt(1 << 17), sink);
          }
        }
      }
      assertThat(tail.poll(true, Long.MAX_VALUE, sink)).isTrue();
    } finally {
      tail.close();
    }
    assertThat(tail.offset()).isEqualTo(content.length);
    return lines;
  }

  /** Lines end at '\n', less one '\r' before it; a last line without one ends the file. */
  private static List<Line> plainSplit(byte[] content) {
    List<Line> lines = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= content.length; i++) {
      boolean newline = i < content.length && content[i] == '\n';
      if (!newline && !(i == content.length && start < content.length)) {
        continue;
      }
      int stop = newline && i > start && content[i - 1] == '\r' ? i - 1 : i;
      boolean ascii = true;
      for (int k = start; k < i; k++) {
        ascii &= content[k] >= 0;
      }
      byte[] bytes = Arrays.copyOfRange(content, start, stop);
      int end = newline ? i + 1 : i;
      lines.add(new Line(hex(bytes), ascii, start, end));
      start = end;
    }
    return lines;
  }

  private static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }
}
