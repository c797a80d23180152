package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

  @Test
  void escapesInTheMessage_areDecoded() {
    LogEntry e = parse("{\"@level\":\"info\",\"@message\":\"say \\\"hi\\\" \\\\ tab\\tnl\\n "
        + "\\u00e9\\u20ac \\ud83d\\ude00 \\u003cb\\u003e \\/\",\"type\":\"log\"}");
    assertThat(e.getMessage()).isEqualTo("say \"hi\" \\ tab\tnl\n é€ \uD83D\uDE00 <b> /");
    assertThat(e.getType()).isEqualTo("log");
  }

  @Test
  void fieldsInAnyOrder_giveTheSameEntry() {
    String hook = "\"hook\":{\"action\":\"delete\",\"resource\":{\"module\":\"\","
        + "\"addr\":\"null_resource.b\"}}";
    LogEntry inOrder = parse("{\"@level\":\"warn\",\"@message\":\"m\",\"@timestamp\":"
        + "\"2026-11-27T17:17:35.5+01:00\"," + hook + ",\"type\":\"apply_start\"}");
    LogEntry reversed = parse("{\"type\":\"apply_start\"," + hook + ",\"@timestamp\":"
        + "\"2026-11-27T17:17:35.5+01:00\",\"@message\":\"m\",\"@level\":\"warn\"}");
    assertThat(reversed.toBuilder().clearRaw().build())
        .isEqualTo(inOrder.toBuilder().clearRaw().build());
    assertThat(inOrder.getLevel()).isEqualTo(LogLevel.LOG_LEVEL_WARN);
    assertThat(inOrder.getResourceAddress()).isEqualTo("null_resource.b");
    assertThat(inOrder.getAction()).isEqualTo("delete");
    assertThat(inOrder.getTime().getSeconds())
        .isEqualTo(Instant.parse("2026-11-27T16:17:35Z").getEpochSecond());
    assertThat(inOrder.getTime().getNanos()).isEqualTo(500_000_000);
  }

  @Test
  void nestedObjectsThatAreNotUsed_areSkipped_andUsedOnesKept() {
    LogEntry e = parse("{\"@message\":\"Error: Unsupported argument\",\"diagnostic\":{"
        + "\"snippet\":{\"context\":\"resource \\\"a\\\" \\\"b\\\"\",\"values\":[{\"traversal\":"
        + "\"var.x\",\"statement\":\"is {}\"}],\"highlight_start_offset\":2},\"range\":{"
        + "\"end\":{\"line\":9},\"start\":{\"column\":3,\"line\":8,\"byte\":1},"
        + "\"filename\":\"mod/main.tf\"},\"detail\":\"An argument named \\\"x\\\" is not "
        + "expected here.\",\"summary\":\"Unsupported argument\"},\"@level\":\"error\","
        + "\"type\":\"diagnostic\",\"change\":{\"resource\":{\"addr\":\"a.b\"},\"action\":"
        + "\"create\"}}");
    assertThat(e.getMessage()).isEqualTo("Error: Unsupported argument: An argument named \"x\" "
        + "is not expected here. (mod/main.tf line 8)");
    assertThat(e.getLevel()).isEqualTo(LogLevel.LOG_LEVEL_ERROR);
    // A "change" (planned_change lines) names the resource when there is no "hook".
    assertThat(e.getResourceAddress()).isEqualTo("a.b");
    assertThat(e.getAction()).isEqualTo("create");
  }

  @Test
  void aHook_winsOverAChange_evenWithoutAnAddress() {
    LogEntry e = parse("{\"@message\":\"m\",\"change\":{\"resource\":{\"addr\":\"a.b\"}},"
        + "\"hook\":{\"resource\":{}}}");
    assertThat(e.getResourceAddress()).isEmpty();
    assertThat(e.getAction()).isEmpty();
  }

  @Test
  void missingFields_takeTheDefaults() {
    LogEntry e = parse("{\"@message\":\"only a message\"}");
    assertThat(e.getMessage()).isEqualTo("only a message");
    assertThat(e.getLevel()).isEqualTo(LogLevel.LOG_LEVEL_INFO);
    assertThat(e.getType()).isEmpty();
    assertThat(e.getTime().getSeconds()).isZero();
    assertThat(e.getResourceAddress()).isEmpty();
    LogEntry diag = parse("{\"@message\":\"Warning: x\",\"diagnostic\":{\"range\":{"
        + "\"filename\":\"main.tf\"}}}");
    assertThat(diag.getMessage()).isEqualTo("Warning: x (main.tf line 0)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"{", "{not json", "{\"@message\":\"cut", "{\"@message\":\"x\",}",
      "{}", "{\"type\":\"log\"}", "{\"@message\":\"x\",\"hook\":{\"resource\":[}}",
      "{\"@message\":\"bad escape \\q\"}", "[{\"@message\":\"x\"}]", " {\"@message\":\"x\"}"})
  void linesThatAreNotEntriesOfTheJsonStream_stayPlain(String line) {
    LogEntry e = parse(line);
    assertThat(e.getMessage()).isEqualTo(line);
    assertThat(e.getRaw()).isEqualTo(line);
    assertThat(e.getLevel()).isEqualTo(LogLevel.LOG_LEVEL_INFO);
    assertThat(e.getType()).isEmpty();
  }

  @Test
  void textAfterTheObject_isIgnored_asBefore() {
    LogEntry e = parse("{\"@message\":\"x\",\"type\":\"log\"} trailing {");
    assertThat(e.getMessage()).isEqualTo("x");
    assertThat(e.getType()).isEqualTo("log");
  }

  @ParameterizedTest
  @ValueSource(strings = {"2026-11-27t17:17:35z", "2026-11-27T17:17:35+0100",
      "2026-11-27T17:17+01:00", "2026-11-27T17:17:35.+01:00", "2026-11-27T17:17:35+01:00:30",
      "2026-11-27T17:17:35.1234567890Z", "2026-11-27T17:17:35-18:00", "+2026-11-27T17:17:35Z"})
  void timestampsInAnotherLayout_goToTheGeneralParser(String ts) {
    LogEntry e = parse("{\"@message\":\"m\",\"@timestamp\":\"" + ts + "\"}");
    Instant expected;
    try {
      expected = java.time.OffsetDateTime.parse(ts).toInstant();
    } catch (java.time.format.DateTimeParseException notAccepted) {
      expected = Instant.EPOCH;
    }
    assertThat(LogLines.terraformTime(ts)).isNull();
    assertThat(e.getTime().getSeconds()).isEqualTo(expected.getEpochSecond());
    assertThat(e.getTime().getNanos()).isEqualTo(expected.getNano());
  }

  @ParameterizedTest
  @ValueSource(strings = {"2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-27T24:00:00Z",
      "2026-11-27T23:59:60Z", "2026-13-01T00:00:00Z", "2026-11-27T17:17:35+18:30", "yesterday"})
  void impossibleTimestamps_keepTheTimeTheLineWasRead(String ts) {
    LogEntry e = LogLines.parse(Stage.STAGE_APPLY, LogStream.LOG_STREAM_STDOUT,
        "{\"@message\":\"m\",\"@timestamp\":\"" + ts + "\"}", Instant.ofEpochSecond(42))
        .build();
    assertThat(e.getTime().getSeconds()).isEqualTo(42);
  }

  @Test
  void terraformsTimestampLayout_isReadByTheFastPath() {
    for (String ts : List.of("2024-05-01T12:00:00.123456+02:00", "2024-02-29T23:59:59Z",
        "2026-11-27T17:17:35.739116Z", "0001-01-01T00:00:00.000000001-17:59",
        "9999-12-31T23:59:59.999999999+17:59", "2024-05-01T12:00:00-00:00")) {
      assertThat(LogLines.terraformTime(ts)).as(ts)
          .isEqualTo(java.time.OffsetDateTime.parse(ts).toInstant());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"@message\":7}", "{\"@message\":null}", "{\"@message\":{\"a\":1}}",
      "{\"@message\":\"a\",\"@message\":\"b\"}", "{\"@message\":\"m\",\"@level\":null}",
      "{\"@message\":\"m\",\"type\":true}", "{\"@message\":\"m\",\"@timestamp\":1}",
      "{\"@message\":\"m\",\"diagnostic\":null}", "{\"@message\":\"m\",\"diagnostic\":\"d\"}",
      "{\"@message\":\"m\",\"diagnostic\":{\"range\":{\"filename\":\"f\",\"start\":"
          + "{\"line\":\"12\"}}}}",
      "{\"@message\":\"m\",\"diagnostic\":{\"range\":{\"filename\":\"f\",\"start\":"
          + "{\"line\":4.9}}}}",
      "{\"@message\":\"m\",\"diagnostic\":{\"range\":{\"filename\":\"f\",\"start\":"
          + "{\"line\":12345678901}}}}",
      "{\"@message\":\"m\",\"hook\":{\"resource\":{\"addr\":\"a\"},\"action\":3}}",
      "{\"@message\":\"m\",\"hook\":{\"resource\":{\"addr\":\"a\"}},\"hook\":{}}",
      "{\"@message\":\"m\",\"hook\":null,\"change\":{\"resource\":{\"addr\":\"a\"}}}"})
  void unusualValues_giveWhatTheTreeReaderGives(String line) {
    assertThat(parse(line)).isEqualTo(LogLines.parseAsTree(Stage.STAGE_APPLY,
        LogStream.LOG_STREAM_STDOUT, line, Instant.EPOCH).build());
  }
}
