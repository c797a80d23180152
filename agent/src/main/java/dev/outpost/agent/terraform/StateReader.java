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

/** Reads Terraform's machine formats: `show -json` of a state, and a raw state file's header. */
public final class StateReader {
  private static final ObjectMapper JSON = new ObjectMapper();

  private StateReader() {}

  public static TerraformState readShowJson(Path file) throws IOException {
    return parseShowJson(Files.readString(file));
  }

  /** An empty state ({"format_version":"1.0"} without "values") gives empty lists. */
  public static TerraformState parseShowJson(String json) throws IOException {
    JsonNode root = JSON.readTree(json);
    if (root == null || !root.isObject()) {
      throw new IOException("`show -json` output is not a JSON object");
    }
    JsonNode values = root.path("values");
    List<TerraformOutput> outputs = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : iterable(values.path("outputs"))) {
      JsonNode o = e.getValue();
      outputs.add(new TerraformOutput(e.getKey(),
          o.has("value") ? JSON.writeValueAsString(o.get("value")) : "null",
          o.path("sensitive").asBoolean(false),
          o.has("type") ? JSON.writeValueAsString(o.get("type")) : null));
    }
    List<TerraformResource> resources = new ArrayList<>();
    collect(values.path("root_module"), resources);
    return new TerraformState(outputs, resources);
  }

  /** Depth-first, in document order: root module first, then each child module. */
  private static void collect(JsonNode module, List<TerraformResource> into) {
    for (JsonNode r : module.path("resources")) {
      into.add(new TerraformResource(r.path("address").asText(), r.path("type").asText(),
          r.path("name").asText(), r.path("provider_name").asText(), r.path("mode").asText()));
    }
    for (JsonNode child : module.path("child_modules")) {
      collect(child, into);
    }
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
