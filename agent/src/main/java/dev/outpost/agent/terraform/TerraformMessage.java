package dev.outpost.agent.terraform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
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
