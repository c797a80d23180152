package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.sandbox.ProcessLeaks;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent reads outputs and resources from the state file instead of running {@code terraform
 * show -json}; here real Terraform applies a configuration with every kind of address (count,
 * for_each keys that need quoting, nested modules with keys, a data source, an aliased
 * provider) and the state file's reading must equal what {@code show -json} prints for it.
 */
class StateFileIntegrationTest {
  private static final Duration RUN = Duration.ofSeconds(60);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ROOT = """
      provider "terraform" { alias = "other" }
      resource "terraform_data" "counted" {
        count = 3
        input = count.index
      }
      resource "terraform_data" "keyed" {
        for_each = toset(["plain", "with \\"quotes\\"", "$${not_a_template}", "%%{nor_this}",
          "back\\\\slash", "tab\\there", "new\\nline", "ünïcødé"])
        input    = each.key
      }
      module "child" {
        source   = "./child"
        for_each = toset(["a", "b\\"c"])
        name     = each.key
      }
      data "terraform_remote_state" "prior" {
        provider = terraform.other
        backend  = "local"
        config   = { path = "${path.module}/prior.tfstate" }
      }
      output "complex" {
        value = { list = [1, 2], name = "x", flag = true }
      }
      output "secret" {
        value     = "s3cr3t"
        sensitive = true
      }
      output "from_prior" { value = data.terraform_remote_state.prior.outputs.x }
      """;
  private static final String CHILD = """
      variable "name" { type = string }
      module "deep" { source = "./deep" }
      resource "terraform_data" "inner" { input = var.name }
      """;
  private static final String DEEP = """
      resource "terraform_data" "deepest" { count = 2 }
      """;
  private static final String PRIOR = """
      {"version":4,"terraform_version":"1.11.4","serial":1,"lineage":"prior",
       "outputs":{"x":{"value":"from before","type":"string"}},"resources":[]}
      """;

  @TempDir Path tmp;
  private TerraformFixture fx;

  @AfterEach
  void noneLeft() {
    if (fx != null) {
      ProcessLeaks.killAll(fx.marker);
      ProcessLeaks.assertNoneLeft(fx.marker);
    }
  }

  @Test
  void stateFile_givesTheOutputsAndResourcesThatShowJsonPrints() throws Exception {
    fx = new TerraformFixture(tmp).file("main.tf", ROOT).file("child/main.tf", CHILD)
        .file("child/deep/main.tf", DEEP).file("prior.tfstate", PRIOR);
    Terraform tf = fx.terraform();
    assertThat(tf.init(InitOptions.defaults()).waitFor(RUN)).contains(0);
    Path plan = fx.jobDir.resolve("plan.tfplan");
    TerraformRun planned = tf.plan(PlanOptions.to(plan));
    assertThat(planned.waitFor(RUN)).as(planned.stderrTail(2000)).contains(2);
    TerraformRun applied = tf.apply(ApplyOptions.ofPlan(plan));
    assertThat(applied.waitFor(RUN)).as(applied.stderrTail(2000)).contains(0);
    Path shown = fx.jobDir.resolve("state.json");
    assertThat(tf.showJson(null, shown).waitFor(RUN)).contains(0);

    TerraformState read = StateReader.readStateFile(fx.source.resolve("terraform.tfstate"));
    TerraformState printed = showJson(JSON.readTree(shown.toFile()));

    assertThat(read.resources()).hasSize(3 + 8 + 2 * (1 + 2) + 1)
        .containsExactlyInAnyOrderElementsOf(printed.resources());
    assertThat(read.outputs()).hasSize(3).containsExactlyInAnyOrderElementsOf(printed.outputs());
    assertThat(read.resources()).extracting(TerraformResource::address)
        .contains("terraform_data.keyed[\"with \\\"quotes\\\"\"]",
            "module.child[\"b\\\"c\"].module.deep.terraform_data.deepest[1]",
            "data.terraform_remote_state.prior");
  }

  /** What {@code show -json} of a state says, in the same records. */
  private static TerraformState showJson(JsonNode root) throws Exception {
    JsonNode values = root.path("values");
    List<TerraformOutput> outputs = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>)
        values.path("outputs")::fields) {
      JsonNode o = e.getValue();
      outputs.add(new TerraformOutput(e.getKey(), JSON.writeValueAsString(o.get("value")),
          o.path("sensitive").asBoolean(), JSON.writeValueAsString(o.get("type"))));
    }
    List<TerraformResource> resources = new ArrayList<>();
    collect(values.path("root_module"), resources);
    return new TerraformState(outputs, resources);
  }

  private static void collect(JsonNode module, List<TerraformResource> into) {
    for (JsonNode r : module.path("resources")) {
      into.add(new TerraformResource(r.path("address").asText(), r.path("type").asText(),
          r.path("name").asText(), r.path("provider_name").asText(), r.path("mode").asText()));
    }
    for (JsonNode child : module.path("child_modules")) {
      collect(child, into);
    }
  }
}
