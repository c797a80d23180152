package dev.outpost.agent.logs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import java.io.IOException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;

/**
 * Turns one (already redacted) line of Terraform output into a structured log entry: lines of
 * the {@code -json} stream keep their level, message, type, and resource address and action;
 * any other line becomes a plain entry.
 */
final class LogLines {
  private static final ObjectMapper JSON = new ObjectMapper();

  private LogLines() {}

  static LogEntry.Builder parse(Stage stage, LogStream stream, String raw, Instant readAt) {
    LogEntry.Builder entry = LogEntry.newBuilder().setStage(stage).setStream(stream).setRaw(raw)
        .setLevel(stream == LogStream.LOG_STREAM_STDERR ? LogLevel.LOG_LEVEL_WARN
            : LogLevel.LOG_LEVEL_INFO)
        .setTime(Times.timestamp(readAt)).setMessage(raw);
    if (raw.isEmpty() || raw.charAt(0) != '{') {
      return entry;
    }
    JsonNode node;
    try {
      node = JSON.readTree(raw);
    } catch (IOException e) {
      return entry;
    }
    if (node == null || !node.isObject() || !node.has("@message")) {
      return entry;
    }
    entry.setMessage(node.path("@message").asText()).setType(node.path("type").asText(""))
        .setLevel(level(node.path("@level").asText("info")));
    String ts = node.path("@timestamp").asText("");
    if (!ts.isEmpty()) {
      try {
        entry.setTime(Times.timestamp(OffsetDateTime.parse(ts).toInstant()));
      } catch (DateTimeParseException ignored) {
        // Keep the time the agent read the line.
      }
    }
    if (node.has("diagnostic")) {
      // Keep what the diagnostic says in full: "@message" carries only its summary.
      JsonNode d = node.get("diagnostic");
      String detail = d.path("detail").asText("");
      String where = d.path("range").path("filename").asText("");
      entry.setMessage(node.path("@message").asText() + (detail.isEmpty() ? "" : ": " + detail)
          + (where.isEmpty() ? "" : " (" + where + " line "
              + d.path("range").path("start").path("line").asInt() + ")"));
    }
    JsonNode hook = node.has("hook") ? node.get("hook") : node.path("change");
    String address = hook.path("resource").path("addr").asText("");
    if (!address.isEmpty()) {
      entry.setResourceAddress(address).setAction(hook.path("action").asText(""));
    }
    return entry;
  }

  private static LogLevel level(String level) {
    return switch (level) {
      case "trace" -> LogLevel.LOG_LEVEL_TRACE;
      case "debug" -> LogLevel.LOG_LEVEL_DEBUG;
      case "warn" -> LogLevel.LOG_LEVEL_WARN;
      case "error" -> LogLevel.LOG_LEVEL_ERROR;
      default -> LogLevel.LOG_LEVEL_INFO;
    };
  }
}
