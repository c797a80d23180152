package dev.outpost.agent.terraform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

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
      if (!line.startsWith("{")) {
        continue;
      }
      try {
        JsonNode node = JSON.readTree(line);
        messages.add(new TerraformMessage(node.path("type").asText(""),
            node.path("@level").asText(""), node.path("@message").asText(""), line));
      } catch (IOException e) {
        // a line still being written (no newline yet) or not Terraform's: skip
      }
    }
    return messages;
  }
}
