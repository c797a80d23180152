package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BuiltinOnlyTest {
  private static final String BUILTIN = """
      variable "n" { default = 2 }
      resource "terraform_data" "r" {
        count = var.n
        input = "some data"
        provisioner "local-exec" { command = "echo ${count.index}" }
      }
      data terraform_remote_state "other" {
        backend = "local"
        config = { path = "other.tfstate" }
      }
      output "ids" { value = terraform_data.r[*].id }
      """;

  @TempDir
  Path dir;

  @Test
  void onlyBuiltinResources_needNoProvider() throws Exception {
    Files.writeString(dir.resolve("main.tf"), BUILTIN);
    assertThat(BuiltinOnly.holds(dir)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "resource \"aws_instance\" \"web\" {}",
      "resource aws_instance web {}",
      "data \"http\" \"x\" { url = \"http://127.0.0.1\" }",
      "ephemeral \"random_password\" \"p\" {}",
      "provider \"aws\" { region = \"eu-west-1\" }",
      "terraform {\n  required_providers {\n    null = { source = \"hashicorp/null\" }\n  }\n}",
      "module \"m\" { source = \"./m\" }",
      "import {\n  to = terraform_data.r[0]\n  id = \"x\"\n}",
      "removed {\n  from = aws_instance.old\n}",
      "# this mentions data sources in passing"})
  void anythingElse_mayNeedOne(String extra) throws Exception {
    Files.writeString(dir.resolve("main.tf"), BUILTIN);
    Files.writeString(dir.resolve("extra.tf"), extra);
    assertThat(BuiltinOnly.holds(dir)).as(extra).isFalse();
  }

  @Test
  void jsonConfigurationsAndLockFiles_mayNeedOne() throws Exception {
    Files.writeString(dir.resolve("main.tf"), BUILTIN);
    Files.writeString(dir.resolve("x.tf.json"), "{}");
    assertThat(BuiltinOnly.holds(dir)).isFalse();
    Files.delete(dir.resolve("x.tf.json"));
    Files.writeString(dir.resolve(".terraform.lock.hcl"), "");
    assertThat(BuiltinOnly.holds(dir)).isFalse();
  }

  @Test
  void aPriorStateWithAnotherProvidersResources_needsIt() throws Exception {
    Files.writeString(dir.resolve("main.tf"), BUILTIN);
    Files.writeString(dir.resolve("terraform.tfstate"), """
        {"version": 4, "resources": [{"mode": "managed", "type": "terraform_data", "name": "r",
          "provider": "provider[\\"terraform.io/builtin/terraform\\"]", "instances": []}]}
        """);
    assertThat(BuiltinOnly.holds(dir)).as("built-in resources only").isTrue();

    Files.writeString(dir.resolve("terraform.tfstate"), """
        {"version": 4, "resources": [{"mode": "managed", "type": "aws_instance", "name": "w",
          "provider": "provider[\\"registry.terraform.io/hashicorp/aws\\"]", "instances": []}]}
        """);
    assertThat(BuiltinOnly.holds(dir)).as("an AWS resource left in the state").isFalse();

    Files.writeString(dir.resolve("terraform.tfstate"), "{not json");
    assertThat(BuiltinOnly.holds(dir)).as("an unreadable state").isFalse();
  }
}
