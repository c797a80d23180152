package dev.outpost.agent.ops;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The agent's config file ({@code --config}): YAML ({@code .yaml}, {@code .yml}) or TOML
 * ({@code .toml}), one top-level key per flag, named like the flag without its dashes:
 *
 * <pre>
 * control-plane: cp.example.com:443
 * max-jobs: 4
 * provider-mirror: [/opt/mirror]
 * tag: {team: platform}
 * </pre>
 *
 * Values become the flag's text: a list is joined with commas, a map becomes
 * {@code k=v,k2=v2}. An unknown key is an error naming it, not something silently ignored.
 */
public final class ConfigFile {
  private final Path path;
  private final Map<String, String> values;

  private ConfigFile(Path path, Map<String, String> values) {
    this.path = path;
    this.values = Collections.unmodifiableMap(values);
  }

  public static ConfigFile read(Path path, Set<String> knownKeys) {
    ObjectMapper mapper = mapperFor(path);
    JsonNode root;
    try {
      root = mapper.readTree(Files.readString(path));
    } catch (NoSuchFileException e) {
      throw new ConfigException("--config " + path + " does not exist");
    } catch (JacksonException e) {
      throw new ConfigException("--config " + path + " is not valid "
          + (mapper instanceof TomlMapper ? "TOML" : "YAML") + ": "
          + e.getOriginalMessage().lines().findFirst().orElse("") + location(e));
    } catch (IOException e) {
      throw new ConfigException("--config " + path + " cannot be read: " + e.getMessage(), e);
    }
    Map<String, String> values = new LinkedHashMap<>();
    if (root == null || root.isNull() || root.isMissingNode()) {
      return new ConfigFile(path, values);
    }
    if (!root.isObject()) {
      throw new ConfigException("--config " + path + " must hold a map of settings "
          + "(control-plane: HOST:PORT, ...), not a " + root.getNodeType().name()
          .toLowerCase(Locale.ROOT));
    }
    for (var field : (Iterable<Map.Entry<String, JsonNode>>) root::fields) {
      String key = field.getKey();
      if (!knownKeys.contains(key)) {
        throw new ConfigException("--config " + path + ": unknown setting '" + key
            + "'; settings are the flags without their dashes: " + String.join(", ",
                knownKeys.stream().sorted().toList()));
      }
      values.put(key, text(path, key, field.getValue()));
    }
    return new ConfigFile(path, values);
  }

  private static ObjectMapper mapperFor(Path path) {
    String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".toml")) {
      return new TomlMapper();
    }
    if (name.endsWith(".yaml") || name.endsWith(".yml")) {
      return new YAMLMapper();
    }
    throw new ConfigException("--config " + path + ": the file name must end in .yaml, .yml "
        + "or .toml (the format is taken from it)");
  }

  private static String location(JacksonException e) {
    return e.getLocation() == null || e.getLocation().getLineNr() < 0 ? ""
        : " (line " + e.getLocation().getLineNr() + ")";
  }

  private static String text(Path path, String key, JsonNode value) {
    if (value.isValueNode()) {
      return value.isNull() ? "" : value.asText();
    }
    List<String> parts = new ArrayList<>();
    if (value.isArray()) {
      for (JsonNode item : value) {
        if (!item.isValueNode()) {
          throw new ConfigException("--config " + path + ": '" + key + "' must be a list of "
              + "plain values");
        }
        parts.add(item.asText());
      }
    } else {
      for (var entry : (Iterable<Map.Entry<String, JsonNode>>) value::fields) {
        if (!entry.getValue().isValueNode()) {
          throw new ConfigException("--config " + path + ": '" + key + "." + entry.getKey()
              + "' must be a plain value");
        }
        parts.add(entry.getKey() + "=" + entry.getValue().asText());
      }
    }
    for (String part : parts) {
      if (part.contains(",")) {
        throw new ConfigException("--config " + path + ": '" + key + "' has an item with a "
            + "comma, which list settings cannot hold: " + part);
      }
    }
    return String.join(",", parts);
  }

  public Path path() {
    return path;
  }

  /** The setting's text, or null when the file does not set it. */
  public String get(String key) {
    return values.get(key);
  }
}
