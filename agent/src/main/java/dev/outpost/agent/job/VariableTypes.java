package dev.outpost.agent.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The type constraints of a root module's variables, as written. Terraform's machine-readable
 * plan omits them, so they are read from the configuration: {@code .tf.json} exactly, {@code .tf}
 * by finding each {@code variable} block's {@code type =} expression (balanced brackets). A type
 * that cannot be found is reported empty, meaning "any".
 */
final class VariableTypes {
  private static final Pattern BLOCK = Pattern.compile("(?m)^\\s*variable\\s+\"([^\"]+)\"\\s*\\{");
  private static final Pattern TYPE = Pattern.compile("(?m)^\\s*type\\s*=\\s*");
  private static final ObjectMapper JSON = new ObjectMapper();

  private VariableTypes() {}

  static Map<String, String> read(Path moduleDir) {
    Map<String, String> types = new HashMap<>();
    try (Stream<Path> files = Files.list(moduleDir)) {
      for (Path f : files.sorted().toList()) {
        String name = f.getFileName().toString();
        if (name.endsWith(".tf.json")) {
          fromJson(f, types);
        } else if (name.endsWith(".tf")) {
          fromHcl(Files.readString(f, StandardCharsets.UTF_8), types);
        }
      }
    } catch (IOException e) {
      // Types are a courtesy for forms; their absence must not fail the import.
    }
    return types;
  }

  static void fromHcl(String text, Map<String, String> types) {
    Matcher block = BLOCK.matcher(text);
    while (block.find()) {
      int end = closingBrace(text, block.end());
      String body = text.substring(block.end(), end);
      Matcher type = TYPE.matcher(body);
      int depth = 0;
      while (type.find()) {
        // Only a top-level attribute of the block counts, not one inside a nested block.
        depth = depthAt(body, type.start());
        if (depth == 0) {
          types.put(block.group(1), expression(body, type.end()));
          break;
        }
      }
    }
  }

  private static void fromJson(Path f, Map<String, String> types) throws IOException {
    JsonNode vars = JSON.readTree(f.toFile()).path("variable");
    for (Iterator<Map.Entry<String, JsonNode>> it = vars.fields(); it.hasNext();) {
      Map.Entry<String, JsonNode> v = it.next();
      if (v.getValue().has("type")) {
        types.put(v.getKey(), v.getValue().get("type").asText());
      }
    }
  }

  private static int closingBrace(String text, int from) {
    int depth = 1;
    for (int i = from; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '{') {
        depth++;
      } else if (c == '}' && --depth == 0) {
        return i;
      }
    }
    return text.length();
  }

  private static int depthAt(String body, int pos) {
    int depth = 0;
    for (int i = 0; i < pos; i++) {
      char c = body.charAt(i);
      if (c == '{') {
        depth++;
      } else if (c == '}') {
        depth--;
      }
    }
    return depth;
  }

  /** The expression from {@code from} to the end of its line, brackets balanced. */
  private static String expression(String body, int from) {
    int depth = 0;
    StringBuilder out = new StringBuilder();
    for (int i = from; i < body.length(); i++) {
      char c = body.charAt(i);
      if (c == '(' || c == '[' || c == '{') {
        depth++;
      } else if (c == ')' || c == ']' || c == '}') {
        depth--;
      } else if (c == '\n' && depth <= 0) {
        break;
      }
      out.append(c);
    }
    return out.toString().replaceAll("\\s+", " ").strip();
  }
}
