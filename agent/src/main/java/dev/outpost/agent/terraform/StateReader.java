package dev.outpost.agent.terraform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads what a job's result needs from the terraform.tfstate that Terraform left: its outputs
 * and resource instances, and its serial and lineage. The state file (format version 4, the
 * only one Terraform 1.x writes) is read directly rather than through {@code terraform show
 * -json}, which would start Terraform once more per job only to print the same facts; the
 * addresses and provider names come out as {@code show -json} spells them
 * ({@code StateFileIntegrationTest} compares the two on real states).
 */
public final class StateReader {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PROVIDER_PREFIX = "provider[\"";

  private StateReader() {}

  public static TerraformState readStateFile(Path file) throws IOException {
    return parseStateFile(Files.readAllBytes(file));
  }

  /**
   * Outputs in the state's order; resource instances by module (the root first, as the state
   * file sorts them), current objects only (a deposed object awaiting deletion is not a
   * resource of the result).
   */
  public static TerraformState parseStateFile(byte[] state) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(state);
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      throw new IOException("the state is not valid JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw new IOException("the state is not a JSON object");
    }
    if (root.path("version").asInt(-1) != 4) {
      throw new IOException("the state has format version " + root.path("version")
          + "; this agent reads version 4, which Terraform 1.x and OpenTofu write");
    }
    List<TerraformOutput> outputs = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : iterable(root.path("outputs"))) {
      JsonNode o = e.getValue();
      outputs.add(new TerraformOutput(e.getKey(),
          o.has("value") ? JSON.writeValueAsString(o.get("value")) : "null",
          o.path("sensitive").asBoolean(false),
          o.has("type") ? JSON.writeValueAsString(o.get("type")) : null));
    }
    List<TerraformResource> resources = new ArrayList<>();
    for (JsonNode r : root.path("resources")) {
      String module = r.path("module").asText("");
      String mode = r.path("mode").asText();
      String type = r.path("type").asText();
      String name = r.path("name").asText();
      String base = (module.isEmpty() ? "" : module + ".") + ("data".equals(mode) ? "data." : "")
          + type + "." + name;
      String provider = providerName(r.path("provider").asText());
      for (JsonNode instance : r.path("instances")) {
        if (instance.hasNonNull("deposed")) {
          continue;
        }
        resources.add(new TerraformResource(base + instanceKey(instance.get("index_key")), type,
            name, provider, mode));
      }
    }
    return new TerraformState(outputs, resources);
  }

  /** {@code provider["registry.terraform.io/hashicorp/aws"].west} gives the quoted source. */
  static String providerName(String config) {
    int start = config.indexOf(PROVIDER_PREFIX);
    int end = start < 0 ? -1 : config.indexOf("\"]", start + PROVIDER_PREFIX.length());
    return end < 0 ? config : config.substring(start + PROVIDER_PREFIX.length(), end);
  }

  /** [0] for count, ["key"] (quoted as Terraform quotes it) for for_each, nothing otherwise. */
  static String instanceKey(JsonNode key) {
    if (key == null || key.isNull()) {
      return "";
    }
    if (key.isNumber()) {
      return "[" + key.asLong() + "]";
    }
    StringBuilder quoted = new StringBuilder("[\"");
    String text = key.asText();
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '\\' -> quoted.append("\\\\");
        case '"' -> quoted.append("\\\"");
        case '\n' -> quoted.append("\\n");
        case '\r' -> quoted.append("\\r");
        case '\t' -> quoted.append("\\t");
        case '$', '%' -> {
          quoted.append(c);
          if (i + 1 < text.length() && text.charAt(i + 1) == '{') {
            quoted.append(c); // "${" and "%{" would start a template: doubled
          }
        }
        default -> {
          if (c < 0x20) {
            quoted.append(String.format("\\u%04x", (int) c));
          } else {
            quoted.append(c);
          }
        }
      }
    }
    return quoted.append("\"]").toString();
  }

  /** Serial and lineage of a terraform.tfstate; empty if the file is missing or empty. */
  public static Optional<StateIdentity> identity(Path stateFile) throws IOException {
    try {
      return identity(Files.readAllBytes(stateFile));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  public static Optional<StateIdentity> identity(byte[] state) throws IOException {
    if (state.length == 0) {
      return Optional.empty(); // what a SIGKILLed Terraform leaves behind
    }
    JsonNode root = JSON.readTree(state);
    if (root == null || !root.path("serial").canConvertToLong() || !root.path("lineage").isTextual()) {
      throw new IOException("state has no serial/lineage");
    }
    return Optional.of(new StateIdentity(root.get("serial").asLong(), root.get("lineage").asText()));
  }

  private static Iterable<Map.Entry<String, JsonNode>> iterable(JsonNode object) {
    return object::fields;
  }
}
