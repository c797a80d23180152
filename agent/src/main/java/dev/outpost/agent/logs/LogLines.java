package dev.outpost.agent.logs;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.Month;
import java.time.OffsetDateTime;
import java.time.Year;
import java.time.format.DateTimeParseException;

/**
 * Turns one (already redacted) line of Terraform output into a structured log entry: lines of
 * the {@code -json} stream keep their level, message, type, and resource address and action;
 * any other line becomes a plain entry.
 *
 * <p>Every line of a job passes here, so a line is read with Jackson's streaming parser, taking
 * only the fields the entry uses and skipping the rest (issue 8: the tree of every line cost
 * more than the rest of the pipeline). What that reader does not expect (a field given twice,
 * a field of another type than Terraform writes) sends the line to the tree reader it replaced,
 * so the entry is the same either way; the tests compare the two.
 */
final class LogLines {
  private static final ObjectMapper JSON = new ObjectMapper();
  /**
   * Longer lines are read as a tree. The streaming reader skips the strings it does not use
   * without decoding them, and so without Jackson's limit on a string's length (millions of
   * characters); below this length no string can reach that limit, so both readers reject the
   * same lines. The pipeline splits lines long before this.
   */
  private static final int MAX_STREAMED_CHARS = 1 << 20;
  private static final int[] NANOS_SCALE = {100_000_000, 10_000_000, 1_000_000, 100_000,
      10_000, 1_000, 100, 10, 1};

  private LogLines() {}

  static LogEntry.Builder parse(Stage stage, LogStream stream, String raw, Instant readAt) {
    return parse(stage, stream, raw, null, readAt);
  }

  /**
   * The entry for a line given as text ({@code raw}) or as its UTF-8 bytes ({@code utf8}, the
   * bytes the line was read as, never changed afterwards; {@code raw} is then null). Bytes are
   * kept as the entry's raw field, so that sending it needs no encoding, and they are what the
   * JSON reader reads; text is made of them only for a line that is not Terraform's JSON.
   */
  static LogEntry.Builder parse(Stage stage, LogStream stream, String raw, byte[] utf8,
      Instant readAt) {
    return parse(stage, stream, raw, utf8, 0, utf8 == null ? 0 : utf8.length, readAt, null);
  }

  /**
   * As above, for the bytes {@code utf8[from, to)} (kept as they are, not copied), and with the
   * second redaction pass when {@code redactor} is given: decoding JSON can reveal a secret
   * that the escaped raw line hid from the first. Bytes given here must hold nothing to mask
   * (the caller looked); a message that is their own slice (a JSON string without escapes)
   * then needs no second look, and it keeps the bytes: no text is made of it and sending it
   * needs no encoding.
   */
  static LogEntry.Builder parse(Stage stage, LogStream stream, String raw, byte[] utf8,
      int from, int to, Instant readAt, Redactor redactor) {
    LogEntry.Builder entry = entry(stage, stream, raw, utf8, from, to, redactor);
    // The time the line was read, unless it carries Terraform's own.
    return entry.hasTime() ? entry : entry.setTime(Times.timestamp(readAt));
  }

  private static LogEntry.Builder entry(Stage stage, LogStream stream, String raw, byte[] utf8,
      int from, int to, Redactor redactor) {
    LogEntry.Builder entry = base(stage, stream);
    boolean json;
    int length;
    if (utf8 != null) {
      entry.setRawBytes(UnsafeByteOperations.unsafeWrap(utf8, from, to - from));
      length = to - from;
      json = length > 0 && utf8[from] == '{';
    } else {
      entry.setRaw(raw);
      length = raw.length();
      json = length > 0 && raw.charAt(0) == '{';
    }
    // A line that is not Terraform's JSON is its own message.
    if (!json) {
      return message(entry, text(raw, utf8, from, to), redactor);
    }
    if (length > MAX_STREAMED_CHARS) {
      return tree(entry, text(raw, utf8, from, to), redactor);
    }
    UiLine line = new UiLine(utf8, from, to);
    try (JsonParser p = utf8 != null ? JSON.createParser(utf8, from, length)
        : JSON.createParser(raw)) {
      if (!line.read(p)) {
        return tree(entry, text(raw, utf8, from, to), redactor);
      }
    } catch (IOException e) {
      return message(entry, text(raw, utf8, from, to), redactor);
    }
    if (line.message == null) {
      return message(entry, text(raw, utf8, from, to), redactor);
    }
    entry.setLevel(line.level);
    if (line.type instanceof ByteString t) {
      entry.setTypeBytes(t);
    } else {
      entry.setType((String) line.type);
    }
    if (line.time != null) {
      entry.setTime(Times.timestamp(line.time));
    } else {
      setTime(entry, line.timestamp);
    }
    if (line.diagnostic) {
      // Keep what the diagnostic says in full: "@message" carries only its summary.
      message(entry, text(line.message) + (line.detail.isEmpty() ? "" : ": " + line.detail)
          + (line.filename.isEmpty() ? "" : " (" + line.filename + " line " + line.line + ")"),
          redactor);
    } else if (line.message instanceof ByteString m) {
      entry.setMessageBytes(m);
    } else {
      message(entry, (String) line.message, redactor);
    }
    Object address = line.hook ? line.hookAddress : line.changeAddress;
    Object action = line.hook ? line.hookAction : line.changeAction;
    if (address instanceof ByteString a && !a.isEmpty()) {
      entry.setResourceAddressBytes(a);
    } else if (address instanceof String a && !a.isEmpty()) {
      entry.setResourceAddress(a);
    } else {
      return entry;
    }
    if (action instanceof ByteString a) {
      entry.setActionBytes(a);
    } else {
      entry.setAction((String) action);
    }
    return entry;
  }

  private static LogEntry.Builder message(LogEntry.Builder entry, String text,
      Redactor redactor) {
    return entry.setMessage(redactor == null ? text : redactor.redact(text));
  }

  private static LogEntry.Builder tree(LogEntry.Builder entry, String text, Redactor redactor) {
    fromTree(entry.setMessage(text), text);
    return redactor == null ? entry : message(entry, entry.getMessage(), redactor);
  }

  /** A string field's value as read: text, or the line's own bytes (see UiLine#value). */
  private static String text(Object value) {
    return value instanceof ByteString b ? b.toStringUtf8() : (String) value;
  }

  private static String text(String raw, byte[] utf8, int from, int to) {
    return raw != null ? raw : new String(utf8, from, to - from, StandardCharsets.UTF_8);
  }

  /** Stage, stream and the stream's level (the time is set by the caller). */
  private static LogEntry.Builder base(Stage stage, LogStream stream) {
    return LogEntry.newBuilder().setStage(stage).setStream(stream)
        .setLevel(stream == LogStream.LOG_STREAM_STDERR ? LogLevel.LOG_LEVEL_WARN
            : LogLevel.LOG_LEVEL_INFO);
  }

  private static LogEntry.Builder plain(Stage stage, LogStream stream, String raw,
      Instant readAt) {
    return base(stage, stream).setTime(Times.timestamp(readAt)).setRaw(raw).setMessage(raw);
  }

  /** The line read as a tree: the reference for what {@link #parse} must give. */
  static LogEntry.Builder parseAsTree(Stage stage, LogStream stream, String raw, Instant readAt) {
    LogEntry.Builder entry = plain(stage, stream, raw, readAt);
    if (raw.isEmpty() || raw.charAt(0) != '{') {
      return entry;
    }
    return fromTree(entry, raw);
  }

  private static LogEntry.Builder fromTree(LogEntry.Builder entry, String raw) {
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
    setTime(entry, node.path("@timestamp").asText(""));
    if (node.has("diagnostic")) {
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

  private static void setTime(LogEntry.Builder entry, String ts) {
    if (ts.isEmpty()) {
      return;
    }
    Instant t = terraformTime(ts);
    if (t == null) {
      try {
        t = OffsetDateTime.parse(ts).toInstant();
      } catch (DateTimeParseException ignored) {
        return; // Keep the time the agent read the line.
      }
    }
    entry.setTime(Times.timestamp(t));
  }

  /**
   * The instant of a timestamp in the one layout Terraform writes, RFC 3339 with an upper-case
   * {@code T}, seconds, an optional fraction of 1 to 9 digits and {@code Z} or {@code ±HH:MM}
   * ({@code 2024-05-01T12:00:00.123456+02:00}); null for anything else, including values out
   * of range, which {@link OffsetDateTime#parse} then judges as before. Parsing that layout by
   * hand costs a small part of what the general parser does.
   */
  static Instant terraformTime(String s) {
    return terraformTime(s.toCharArray(), 0, s.length());
  }

  /** As above, for the characters {@code c[from, from + n)} (the JSON reader's buffer). */
  static Instant terraformTime(char[] c, int from, int n) {
    if (n < 20 || c[from + 4] != '-' || c[from + 7] != '-' || c[from + 10] != 'T'
        || c[from + 13] != ':' || c[from + 16] != ':') {
      return null;
    }
    int year = digits(c, from, 4);
    int month = digits(c, from + 5, 2);
    int day = digits(c, from + 8, 2);
    int hour = digits(c, from + 11, 2);
    int minute = digits(c, from + 14, 2);
    int second = digits(c, from + 17, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0
        || minute > 59 || second < 0 || second > 59
        || day > Month.of(month).length(Year.isLeap(year))) {
      return null;
    }
    int i = 19;
    int nanos = 0;
    if (c[from + i] == '.') {
      int start = ++i;
      while (i < n && i - start < 9 && c[from + i] >= '0' && c[from + i] <= '9') {
        nanos = nanos * 10 + (c[from + i++] - '0');
      }
      if (i == start) {
        return null;
      }
      nanos *= NANOS_SCALE[i - start - 1];
    }
    int offset;
    if (i == n - 1 && c[from + i] == 'Z') {
      offset = 0;
    } else if (i == n - 6 && (c[from + i] == '+' || c[from + i] == '-')
        && c[from + i + 3] == ':') {
      int hours = digits(c, from + i + 1, 2);
      int minutes = digits(c, from + i + 4, 2);
      if (hours < 0 || hours > 17 || minutes < 0 || minutes > 59) {
        return null;
      }
      offset = (c[from + i] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
    } else {
      return null;
    }
    long seconds = LocalDate.of(year, month, day).toEpochDay() * 86_400L + hour * 3600L
        + minute * 60L + second - offset;
    return Instant.ofEpochSecond(seconds, nanos);
  }

  /** The value of {@code count} ASCII digits at {@code from}, or -1. */
  private static int digits(char[] s, int from, int count) {
    int value = 0;
    for (int i = from; i < from + count; i++) {
      char c = s[i];
      if (c < '0' || c > '9') {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return value;
  }

  /** The level named by {@code c[from, from + n)}: "trace", "debug", "warn", "error", else info. */
  private static LogLevel level(char[] c, int from, int n) {
    return switch (n) {
      case 4 -> c[from] == 'w' && c[from + 1] == 'a' && c[from + 2] == 'r' && c[from + 3] == 'n'
          ? LogLevel.LOG_LEVEL_WARN : LogLevel.LOG_LEVEL_INFO;
      case 5 -> c[from] == 't' && c[from + 1] == 'r' && c[from + 2] == 'a' && c[from + 3] == 'c'
          && c[from + 4] == 'e' ? LogLevel.LOG_LEVEL_TRACE
          : c[from] == 'd' && c[from + 1] == 'e' && c[from + 2] == 'b' && c[from + 3] == 'u'
              && c[from + 4] == 'g' ? LogLevel.LOG_LEVEL_DEBUG
          : c[from] == 'e' && c[from + 1] == 'r' && c[from + 2] == 'r' && c[from + 3] == 'o'
              && c[from + 4] == 'r' ? LogLevel.LOG_LEVEL_ERROR : LogLevel.LOG_LEVEL_INFO;
      default -> LogLevel.LOG_LEVEL_INFO;
    };
  }

  private static LogLevel level(String level) {
    return level(level.toCharArray(), 0, level.length());
  }

  /**
   * The fields of one line of the machine-readable UI that its entry uses, read in one pass.
   * Missing fields get the tree reader's defaults; {@link #read} answers false where only the
   * tree reader is sure to give the same entry.
   */
  private static final class UiLine {
    /** The line's bytes when it is read from them, else null (see {@link #value}). */
    private final byte[] input;
    private final int inputFrom;
    private final int inputTo;
    // Strings read with value(): text, or a slice of the input (a ByteString).
    Object message;
    LogLevel level = LogLevel.LOG_LEVEL_INFO;
    Object type = "";
    /** The "@timestamp" read in Terraform's layout; else null and {@link #timestamp} set. */
    Instant time;
    String timestamp = "";
    boolean diagnostic;
    String detail = "";
    String filename = "";
    int line;
    boolean hook;
    Object hookAddress = "";
    Object hookAction = "";
    Object changeAddress = "";
    Object changeAction = "";

    /*
     * Terraform writes the fields of a line, of a hook and of a resource in one order: where a
     * name is the one expected next, it is matched on the input's bytes instead of being read
     * and looked up (reading names took about a sixth of the agent's CPU on a busy log).
     */
    private static final SerializedString[] LINE_ORDER = names("@level", "@message", "@module",
        "@timestamp");
    private static final SerializedString[] HOOK_ORDER = names("resource", "action");
    private static final SerializedString[] RESOURCE_ORDER = names("addr", "module", "resource",
        "implied_provider", "resource_type", "resource_name", "resource_key");

    private static SerializedString[] names(String... names) {
      SerializedString[] out = new SerializedString[names.length];
      for (int i = 0; i < names.length; i++) {
        out[i] = new SerializedString(names[i]);
      }
      return out;
    }

    /**
     * The next field's name in the current object, null at its end: {@code order[at]} is
     * tried first (at the end of {@code order}, no name is).
     */
    private static String nextName(JsonParser p, SerializedString[] order, int at)
        throws IOException {
      if (at < order.length) {
        if (p.nextFieldName(order[at])) {
          return order[at].getValue();
        }
        return p.currentToken() == JsonToken.FIELD_NAME ? p.currentName() : null;
      }
      return p.nextToken() == JsonToken.FIELD_NAME ? p.currentName() : null;
    }

    /** Where {@code order} stands after {@code name}: one on if it was the one expected. */
    private static int next(SerializedString[] order, int at, String name) {
      return at < order.length && name.equals(order[at].getValue()) ? at + 1 : order.length;
    }

    UiLine(byte[] input, int from, int to) {
      this.input = input;
      this.inputFrom = from;
      this.inputTo = to;
    }

    /**
     * The current token's string: when the line is read from its bytes and the string is ASCII
     * without an escape, those very bytes (between its quotes, not copied, not decoded; the
     * parser then skips the string without decoding it either); else its text. Null if not a
     * string.
     */
    private Object value(JsonParser p, JsonToken token) throws IOException {
      if (token != JsonToken.VALUE_STRING) {
        return null;
      }
      if (input != null) {
        // The token starts at its opening quote, counted from the start of the line.
        int start = inputFrom + (int) p.currentTokenLocation().getByteOffset() + 1;
        for (int i = start; i < inputTo; i++) {
          byte b = input[i];
          if (b == '"') {
            return UnsafeByteOperations.unsafeWrap(input, start, i - start);
          }
          if (b == '\\' || b < 0) {
            break; // an escape, or not ASCII (decoded and checked by the parser instead)
          }
        }
      }
      return p.getText();
    }

    /**
     * Reads the object the line starts with, to its end: a line that is not JSON throws as the
     * tree reader does; what follows the object is ignored, as it is by the tree reader.
     */
    boolean read(JsonParser p) throws IOException {
      p.nextToken(); // the '{' the line starts with
      int seen = 0;
      int at = 0;
      for (String name; (name = nextName(p, LINE_ORDER, at)) != null; ) {
        at = next(LINE_ORDER, at, name);
        JsonToken value = p.nextToken();
        int field = switch (name) {
          case "@message" -> 1;
          case "@level" -> 2;
          case "@timestamp" -> 4;
          case "type" -> 8;
          case "diagnostic" -> 16;
          case "hook" -> 32;
          case "change" -> 64;
          default -> 0;
        };
        if (field == 0) {
          p.skipChildren();
          continue;
        }
        if ((seen & field) != 0) {
          return false;
        }
        seen |= field;
        boolean usual = switch (field) {
          case 1 -> (message = value(p, value)) != null;
          case 2 -> readLevel(p, value);
          case 4 -> readTime(p, value);
          case 8 -> (type = value(p, value)) != null;
          case 16 -> diagnostic = readDiagnostic(p, value);
          case 32 -> hook = readHook(p, value, true);
          default -> readHook(p, value, false);
        };
        if (!usual) {
          return false;
        }
      }
      return true;
    }

    /** "@level", read where the parser holds it (no text is made of it). */
    private boolean readLevel(JsonParser p, JsonToken value) throws IOException {
      if (value != JsonToken.VALUE_STRING) {
        return false;
      }
      level = level(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
      return true;
    }

    /** "@timestamp", read where the parser holds it; text only when not in Terraform's layout. */
    private boolean readTime(JsonParser p, JsonToken value) throws IOException {
      if (value != JsonToken.VALUE_STRING) {
        return false;
      }
      time = terraformTime(p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
      if (time == null) {
        timestamp = p.getText();
      }
      return true;
    }

    private boolean readDiagnostic(JsonParser p, JsonToken start) throws IOException {
      if (start != JsonToken.START_OBJECT) {
        return false;
      }
      int seen = 0;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if (name.equals("detail")) {
          if ((seen & 1) != 0 || (detail = text(p, value)) == null) {
            return false;
          }
          seen |= 1;
        } else if (name.equals("range")) {
          if ((seen & 2) != 0 || !readRange(p, value)) {
            return false;
          }
          seen |= 2;
        } else {
          p.skipChildren();
        }
      }
      return true;
    }

    private boolean readRange(JsonParser p, JsonToken start) throws IOException {
      if (start != JsonToken.START_OBJECT) {
        return false;
      }
      int seen = 0;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if (name.equals("filename")) {
          if ((seen & 1) != 0 || (filename = text(p, value)) == null) {
            return false;
          }
          seen |= 1;
        } else if (name.equals("start")) {
          if ((seen & 2) != 0 || !readStart(p, value)) {
            return false;
          }
          seen |= 2;
        } else {
          p.skipChildren();
        }
      }
      return true;
    }

    private boolean readStart(JsonParser p, JsonToken start) throws IOException {
      if (start != JsonToken.START_OBJECT) {
        return false;
      }
      boolean seen = false;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if (name.equals("line")) {
          if (seen || value != JsonToken.VALUE_NUMBER_INT
              || p.getNumberType() != JsonParser.NumberType.INT) {
            return false;
          }
          seen = true;
          line = p.getIntValue();
        } else {
          p.skipChildren();
        }
      }
      return true;
    }

    /** A "hook" (or a "change"): the resource's address and the action. */
    private boolean readHook(JsonParser p, JsonToken start, boolean isHook) throws IOException {
      if (start != JsonToken.START_OBJECT) {
        return false;
      }
      int seen = 0;
      Object address = "";
      Object action = "";
      int at = 0;
      for (String name; (name = nextName(p, HOOK_ORDER, at)) != null; ) {
        at = next(HOOK_ORDER, at, name);
        JsonToken value = p.nextToken();
        if (name.equals("resource")) {
          if ((seen & 1) != 0 || (address = readAddress(p, value)) == null) {
            return false;
          }
          seen |= 1;
        } else if (name.equals("action")) {
          if ((seen & 2) != 0 || (action = value(p, value)) == null) {
            return false;
          }
          seen |= 2;
        } else {
          p.skipChildren();
        }
      }
      if (isHook) {
        hookAddress = address;
        hookAction = action;
      } else {
        changeAddress = address;
        changeAction = action;
      }
      return true;
    }

    /** The "addr" of a "resource" object; "" when it has none; null when unusual. */
    private Object readAddress(JsonParser p, JsonToken start) throws IOException {
      if (start != JsonToken.START_OBJECT) {
        return null;
      }
      Object address = "";
      boolean seen = false;
      int at = 0;
      for (String name; (name = nextName(p, RESOURCE_ORDER, at)) != null; ) {
        at = next(RESOURCE_ORDER, at, name);
        JsonToken value = p.nextToken();
        if (name.equals("addr")) {
          if (seen || (address = value(p, value)) == null) {
            return null;
          }
          seen = true;
        } else {
          p.skipChildren();
        }
      }
      return address;
    }

    /** The value if it is a string; null for any other type (the caller reads a tree). */
    private static String text(JsonParser p, JsonToken value) throws IOException {
      return value == JsonToken.VALUE_STRING ? p.getText() : null;
    }
  }
}
