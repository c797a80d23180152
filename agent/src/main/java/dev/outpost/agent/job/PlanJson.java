package dev.outpost.agent.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.proto.v1.ChangeSummary;
import dev.outpost.proto.v1.OutputDeclaration;
import dev.outpost.proto.v1.Resource;
import dev.outpost.proto.v1.ResourceChange;
import dev.outpost.proto.v1.TemplateDescription;
import dev.outpost.proto.v1.VariableDeclaration;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Reads {@code terraform show -json} of a saved plan: changes and the template's description. */
final class PlanJson {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final JsonNode root;

  private PlanJson(JsonNode root) {
    this.root = root;
  }

  static PlanJson read(Path file) throws IOException {
    return new PlanJson(JSON.readTree(file.toFile()));
  }

  List<ResourceChange> resourceChanges() {
    List<ResourceChange> out = new ArrayList<>();
    for (JsonNode rc : root.path("resource_changes")) {
      ResourceChange.Builder b = ResourceChange.newBuilder().setAddress(rc.path("address").asText());
      rc.path("change").path("actions").forEach(a -> b.addActions(a.asText()));
      if (!(b.getActionsCount() == 1 && b.getActions(0).equals("no-op"))) {
        out.add(b.build());
      }
    }
    return out;
  }

  /** Counts as Terraform's summary does: a replacement is one add and one destroy. */
  ChangeSummary summary() {
    int add = 0;
    int change = 0;
    int destroy = 0;
    for (ResourceChange rc : resourceChanges()) {
      List<String> a = rc.getActionsList();
      if (a.contains("create")) {
        add++;
      }
      if (a.contains("delete")) {
        destroy++;
      }
      if (a.contains("update")) {
        change++;
      }
    }
    return ChangeSummary.newBuilder().setAdd(add).setChange(change).setDestroy(destroy).build();
  }

  /**
   * The template's variables, outputs and planned resources. {@code placeholders} are the
   * required variables that were given a stand-in so a plan could be made at all: they are
   * reported required, and the preview is then unavailable.
   */
  TemplateDescription template(Set<String> placeholders, Map<String, String> types) {
    JsonNode module = root.path("configuration").path("root_module");
    TemplateDescription.Builder t = TemplateDescription.newBuilder();
    for (Iterator<Map.Entry<String, JsonNode>> it = module.path("variables").fields(); it.hasNext();) {
      Map.Entry<String, JsonNode> v = it.next();
      boolean required = placeholders.contains(v.getKey()) || !v.getValue().has("default");
      VariableDeclaration.Builder d = VariableDeclaration.newBuilder().setName(v.getKey())
          .setType(types.getOrDefault(v.getKey(), ""))
          .setDescription(v.getValue().path("description").asText(""))
          .setSensitive(v.getValue().path("sensitive").asBoolean(false)).setRequired(required);
      if (!required) {
        d.setDefaultJson(v.getValue().get("default").toString());
      }
      t.addVariables(d);
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = module.path("outputs").fields(); it.hasNext();) {
      Map.Entry<String, JsonNode> o = it.next();
      t.addOutputs(OutputDeclaration.newBuilder().setName(o.getKey())
          .setDescription(o.getValue().path("description").asText(""))
          .setSensitive(o.getValue().path("sensitive").asBoolean(false)));
    }
    if (placeholders.isEmpty()) {
      collectResources(root.path("planned_values").path("root_module"), t);
      t.setPreviewAvailable(true);
    } else {
      t.setPreviewAvailable(false).setPreviewUnavailableReason(
          "required variables without a value: " + String.join(", ", placeholders));
    }
    return t.build();
  }

  private static void collectResources(JsonNode module, TemplateDescription.Builder t) {
    for (JsonNode r : module.path("resources")) {
      t.addPlannedResources(Resource.newBuilder().setAddress(r.path("address").asText())
          .setType(r.path("type").asText()).setName(r.path("name").asText())
          .setProvider(r.path("provider_name").asText()).setMode(r.path("mode").asText()));
    }
    for (JsonNode child : module.path("child_modules")) {
      collectResources(child, t);
    }
  }
}
