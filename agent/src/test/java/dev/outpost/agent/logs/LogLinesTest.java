package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Lines as Terraform 1.11 writes them with -json. */
class LogLinesTest {
  private static LogEntry parse(String line) {
    return LogLines.parse(Stage.STAGE_APPLY, LogStream.LOG_STREAM_STDOUT, line, Instant.EPOCH)
        .build();
  }

  @Test
  void resourceEvents_keepAddressAndAction() {
    LogEntry e = parse("{\"@level\":\"info\",\"@message\":\"terraform_data.a: Creating...\","
        + "\"@module\":\"terraform.ui\",\"@timestamp\":\"2026-11-27T17:17:35.739116Z\","
        + "\"hook\":{\"resource\":{\"addr\":\"terraform_data.a\",\"resource_type\":"
        + "\"terraform_data\"},\"action\":\"create\"},\"type\":\"apply_start\"}");
    assertThat(e.getMessage()).isEqualTo("terraform_data.a: Creating...");
    assertThat(e.getResourceAddress()).isEqualTo("terraform_data.a");
    assertThat(e.getAction()).isEqualTo("create");
    assertThat(e.getType()).isEqualTo("apply_start");
    assertThat(e.getTime().getSeconds()).isEqualTo(Instant.parse("2026-11-27T17:17:35Z")
        .getEpochSecond());
  }

  @Test
  void diagnostics_keepSummaryDetailAndPlace() {
    LogEntry e = parse("{\"@level\":\"error\",\"@message\":\"Error: Invalid reference\","
        + "\"diagnostic\":{\"severity\":\"error\",\"summary\":\"Invalid reference\",\"detail\":"
        + "\"A reference must name a resource.\",\"range\":{\"filename\":\"main.tf\",\"start\":"
        + "{\"line\":3}}},\"type\":\"diagnostic\"}");
    assertThat(e.getLevel()).isEqualTo(LogLevel.LOG_LEVEL_ERROR);
    assertThat(e.getMessage())
        .isEqualTo("Error: Invalid reference: A reference must name a resource. (main.tf line 3)");
  }

  @Test
  void plainLines_stayAsTheyAre() {
    LogEntry e = LogLines.parse(Stage.STAGE_INIT, LogStream.LOG_STREAM_STDERR, "not json {",
        Instant.EPOCH).build();
    assertThat(e.getMessage()).isEqualTo("not json {");
    assertThat(e.getRaw()).isEqualTo("not json {");
    assertThat(e.getLevel()).isEqualTo(LogLevel.LOG_LEVEL_WARN);
  }
}
