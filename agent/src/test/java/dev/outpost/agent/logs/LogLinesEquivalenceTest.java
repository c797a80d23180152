package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * The streaming reader of {@link LogLines} against the tree reader it replaced (kept as its
 * fallback): on lines shaped like Terraform's, with fields in any order, repeated, of other
 * types, nested, escaped, cut short or followed by more text, both give the same entry.
 */
class LogLinesEquivalenceTest {
  private static final Instant READ_AT = Instant.ofEpochSecond(1_700_000_000L, 5);
  private static final List<String> ROOT_KEYS = List.of("@message", "@level", "@timestamp",
      "type", "diagnostic", "hook", "change", "@module", "changes", "output");
  private static final List<String> NESTED_KEYS = List.of("resource", "addr", "action",
      "detail", "range", "filename", "start", "line", "summary", "values");
  private static final List<String> STRINGS = List.of("", "info", "warn", "error", "debug",
      "trace", "apply_start", "terraform_data.a[\\\"k\\\"]", "create", "main.tf",
      "plain text", "quote \\\" backslash \\\\ slash \\/", "tab\\t nl\\n cr\\r",
      "\\u00e9\\u20ac\\u2603", "\\ud83d\\ude00 emoji", "\\u003cb\\u003e \\u0026", "é€ raw",
      "2026-11-27T17:17:35.739116Z", "2024-05-01T12:00:00.123456+02:00",
      "2024-05-01T12:00:00+02:00", "2026-02-30T00:00:00Z", "2026-11-27t17:17:35z",
      "2026-11-27T17:17:35.1234567890Z", "{not an object}", "(sensitive)");
  private static final List<String> SCALARS = List.of("0", "8", "-1", "12345678901",
      "99999999999999999999999", "1.5", "1e3", "-0.0", "true", "false", "null");

  @Property(tries = 3000)
  void streamingReader_givesTheTreeReadersEntry(@ForAll long seed) {
    Random r = new Random(seed);
    String line = mutate(r, object(r, 0, ""));
    for (LogStream stream : List.of(LogStream.LOG_STREAM_STDOUT, LogStream.LOG_STREAM_STDERR)) {
      LogEntry streamed = LogLines.parse(Stage.STAGE_PLAN, stream, line, READ_AT).build();
      LogEntry tree = LogLines.parseAsTree(Stage.STAGE_PLAN, stream, line, READ_AT).build();
      assertThat(streamed).as(line).isEqualTo(tree);
      // The pipeline hands over the line as the bytes it read, in the middle of the array the
      // file reader filled: reading those gives the same entry.
      byte[] before = "{\"x\":1}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      byte[] bytes = line.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      byte[] read = new byte[before.length + bytes.length + before.length];
      System.arraycopy(before, 0, read, 0, before.length);
      System.arraycopy(bytes, 0, read, before.length, bytes.length);
      System.arraycopy(before, 0, read, before.length + bytes.length, before.length);
      LogEntry fromBytes = LogLines.parse(Stage.STAGE_PLAN, stream, null, read, before.length,
          before.length + bytes.length, READ_AT, null).build();
      assertThat(fromBytes).as(line).isEqualTo(tree);
    }
  }

  @Property(tries = 3000)
  void fastTimestampPath_agreesWithTheGeneralParser_orStepsAside(@ForAll long seed) {
    Random r = new Random(seed);
    String ts = timestamp(r);
    Instant fast = LogLines.terraformTime(ts);
    Instant general;
    try {
      general = OffsetDateTime.parse(ts).toInstant();
    } catch (DateTimeParseException e) {
      general = null;
    }
    if (fast != null) {
      assertThat(fast).as(ts).isEqualTo(general);
    }
  }

  @Property(tries = 1000)
  void terraformsLayout_neverNeedsTheGeneralParser(@ForAll long seed) {
    Random r = new Random(seed);
    Instant t = Instant.ofEpochSecond(r.nextLong(-62_135_596_800L + 86_400, 253_402_214_400L),
        r.nextInt(1_000_000_000));
    int offsetMinutes = r.nextInt(-17 * 60, 17 * 60 + 1);
    String ts = OffsetDateTime.ofInstant(t, java.time.ZoneOffset.ofTotalSeconds(offsetMinutes * 60))
        .format(java.time.format.DateTimeFormatter.ISO_OFFSET_DATE_TIME);
    assertThat(LogLines.terraformTime(ts)).as(ts).isEqualTo(t);
  }

  private static String timestamp(Random r) {
    StringBuilder b = new StringBuilder();
    b.append(String.format("%04d-%02d-%02d", r.nextInt(10_000), r.nextInt(15), r.nextInt(33)));
    b.append(r.nextInt(20) == 0 ? 't' : 'T');
    b.append(String.format("%02d:%02d:%02d", r.nextInt(26), r.nextInt(62), r.nextInt(62)));
    int digits = r.nextInt(12) - 1;
    if (digits >= 0) {
      b.append('.');
      for (int i = 0; i < digits; i++) {
        b.append((char) ('0' + r.nextInt(10)));
      }
    }
    switch (r.nextInt(6)) {
      case 0 -> b.append(r.nextBoolean() ? 'Z' : 'z');
      case 1 -> b.append(String.format("%+03d%02d", r.nextInt(-19, 20), r.nextInt(62)));
      case 2 -> b.append(String.format("%+03d:%02d:%02d", r.nextInt(-19, 20), r.nextInt(62),
          r.nextInt(62)));
      case 3 -> { }
      default -> b.append(String.format("%s%02d:%02d", r.nextBoolean() ? "+" : "-",
          r.nextInt(20), r.nextInt(62)));
    }
    return b.toString();
  }

  /** An object with the keys Terraform writes at that place, shuffled, now and then twice. */
  private static String object(Random r, int depth, String key) {
    List<String> keys = new ArrayList<>(switch (key) {
      case "" -> ROOT_KEYS;
      case "hook", "change" -> List.of("resource", "action", "provisioner", "output");
      case "resource" -> List.of("addr", "module", "resource_key");
      case "diagnostic" -> List.of("severity", "summary", "detail", "range", "snippet");
      case "range" -> List.of("filename", "start", "end");
      case "start", "end" -> List.of("line", "column", "byte");
      default -> NESTED_KEYS;
    });
    Collections.shuffle(keys, r);
    List<String> fields = new ArrayList<>();
    for (String k : keys.subList(0, r.nextInt(keys.size() + 1))) {
      fields.add("\"" + k + "\":" + value(r, depth, k));
    }
    if (key.isEmpty() && fields.stream().noneMatch(f -> f.startsWith("\"@message\""))
        && r.nextInt(5) > 0) {
      fields.add(r.nextInt(fields.size() + 1), "\"@message\":" + value(r, depth, "@message"));
    }
    if (!fields.isEmpty() && r.nextInt(10) == 0) {
      String k = keys.get(r.nextInt(fields.size()));
      fields.add(r.nextInt(fields.size() + 1), "\"" + k + "\":" + value(r, depth, k));
    }
    return "{" + String.join(",", fields) + "}";
  }

  private static String value(Random r, int depth, String key) {
    int kind = r.nextInt(40);
    if (kind == 0) {
      return SCALARS.get(r.nextInt(SCALARS.size()));
    }
    if (kind == 1 && depth < 4) {
      return "[" + SCALARS.get(r.nextInt(SCALARS.size())) + "," + object(r, depth + 1, "") + "]";
    }
    boolean object = switch (key) {
      case "diagnostic", "hook", "change", "resource", "range", "start", "end", "snippet",
          "changes" -> true;
      default -> kind == 2;
    };
    if (object && depth < 4) {
      return object(r, depth + 1, key);
    }
    if (key.equals("@timestamp") && kind % 2 == 0) {
      return "\"" + timestamp(r) + "\"";
    }
    if (key.equals("line") || key.equals("column") || key.equals("byte")) {
      return Integer.toString(r.nextInt(200));
    }
    return "\"" + STRINGS.get(r.nextInt(STRINGS.size())) + "\"";
  }

  /** Now and then, a line that is damaged or carries more than one object. */
  private static String mutate(Random r, String line) {
    return switch (r.nextInt(12)) {
      case 0 -> line.substring(0, r.nextInt(line.length()) + 1);
      case 1 -> line + (r.nextBoolean() ? " {\"@message\":\"second\"}" : "}garbage");
      case 2 -> {
        int at = 1 + r.nextInt(line.length() - 1);
        yield line.substring(0, at) + "\",:{}[]\\ x".charAt(r.nextInt(10)) + line.substring(at);
      }
      case 3 -> {
        int at = 1 + r.nextInt(line.length() - 1);
        yield line.substring(0, at) + line.substring(at + 1);
      }
      default -> line;
    };
  }
}
