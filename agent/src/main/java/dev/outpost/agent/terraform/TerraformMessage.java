package dev.outpost.agent.terraform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * One line of Terraform's machine-readable UI (-json).
 *
 * @param type e.g. "version", "log", "diagnostic", "apply_complete", "change_summary"
 * @param level "info", "warn", "error"
 * @param message the human summary Terraform put in "@message"
 * @param json the whole line, for callers that need more fields
 */
public record TerraformMessage(String type, String level, String message, String json) {
  private static final ObjectMapper JSON = new ObjectMapper();

  static List<TerraformMessage> parseLines(String text) {
    List<TerraformMessage> messages = new ArrayList<>();
    for (String line : text.split("\n")) {
      parse(line).ifPresent(messages::add);
    }
    return messages;
  }

  /**
   * The messages of one type in a command's output file, read line by line; only lines that
   * mention the type are parsed, so a command that printed a flood costs a scan, not a parse
   * of every line. A missing file has none.
   */
  static List<TerraformMessage> readType(Path file, String type) throws IOException {
    String mention = "\"" + type + "\"";
    List<TerraformMessage> messages = new ArrayList<>();
    try (BufferedReader lines = new BufferedReader(new InputStreamReader(
        Files.newInputStream(file), StandardCharsets.UTF_8))) {
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        if (line.contains(mention)) {
          parse(line).filter(m -> m.type().equals(type)).ifPresent(messages::add);
        }
      }
    } catch (NoSuchFileException e) {
      return List.of();
    }
    return messages;
  }

  /** How much of a file {@link #readLast} reads at a time, from its end backwards. */
  static final int BACKWARD_BLOCK = 64 * 1024;

  /**
   * The last message of one type in a command's output file, found by reading the file from its
   * end backwards: a summary Terraform writes at the end of its run costs the last few lines
   * however much the command printed before it. Empty when the file is missing or holds none.
   */
  static Optional<TerraformMessage> readLast(Path file, String type) throws IOException {
    byte[] mention = ("\"" + type + "\"").getBytes(StandardCharsets.UTF_8);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long position = channel.size();
      // The blocks after the newest newline seen, oldest first: the end of the line being
      // assembled. A line longer than a block is joined once, when its start is found.
      ArrayDeque<byte[]> rest = new ArrayDeque<>();
      while (position > 0) {
        int n = (int) Math.min(BACKWARD_BLOCK, position);
        position -= n;
        byte[] block = new byte[n];
        ByteBuffer into = ByteBuffer.wrap(block);
        while (into.hasRemaining()) {
          if (channel.read(into, position + into.position()) < 0) {
            throw new IOException(file + " shrank while it was read");
          }
        }
        int lineEnd = n;
        for (int i = n - 1; i >= 0; i--) {
          if (block[i] == '\n') {
            Optional<TerraformMessage> found;
            if (rest.isEmpty()) {
              found = typed(block, i + 1, lineEnd, mention, type);
            } else {
              byte[] line = join(block, i + 1, lineEnd, rest);
              found = typed(line, 0, line.length, mention, type);
            }
            if (found.isPresent()) {
              return found;
            }
            rest.clear();
            lineEnd = i;
          }
        }
        rest.addFirst(Arrays.copyOf(block, lineEnd));
      }
      byte[] first = join(new byte[0], 0, 0, rest);
      return typed(first, 0, first.length, mention, type);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  /** {@code bytes[from, to)} followed by every block of {@code rest}, in order. */
  private static byte[] join(byte[] bytes, int from, int to, ArrayDeque<byte[]> rest) {
    int length = to - from;
    for (byte[] piece : rest) {
      length += piece.length;
    }
    byte[] line = Arrays.copyOfRange(bytes, from, from + length);
    int at = to - from;
    for (byte[] piece : rest) {
      System.arraycopy(piece, 0, line, at, piece.length);
      at += piece.length;
    }
    return line;
  }

  /** The line {@code bytes[from, to)} as a message of {@code type}, if it is one. */
  private static Optional<TerraformMessage> typed(byte[] bytes, int from, int to, byte[] mention,
      String type) {
    if (!contains(bytes, from, to, mention)) {
      return Optional.empty();
    }
    return parse(new String(bytes, from, to - from, StandardCharsets.UTF_8))
        .filter(m -> m.type().equals(type));
  }

  private static boolean contains(byte[] bytes, int from, int to, byte[] part) {
    outer:
    for (int i = from; i <= to - part.length; i++) {
      for (int j = 0; j < part.length; j++) {
        if (bytes[i + j] != part[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  private static Optional<TerraformMessage> parse(String line) {
    if (!line.startsWith("{")) {
      return Optional.empty();
    }
    try {
      JsonNode node = JSON.readTree(line);
      return Optional.of(new TerraformMessage(node.path("type").asText(""),
          node.path("@level").asText(""), node.path("@message").asText(""), line));
    } catch (IOException e) {
      return Optional.empty(); // a line still being written (no newline yet) or not Terraform's
    }
  }
}
