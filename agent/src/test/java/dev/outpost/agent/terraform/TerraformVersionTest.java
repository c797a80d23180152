package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class TerraformVersionTest {

  @Test
  void version_realBinary_isParsed() throws Exception {
    TerraformVersion v = Terraform.version(TerraformFixture.binary());
    assertThat(v.name()).isEqualTo("terraform");
    assertThat(v.version()).matches("\\d+\\.\\d+\\.\\d+.*");
    assertThat(v.platform()).startsWith("linux_");
  }

  @Test
  void parse_recordedOpenTofuOutput() {
    // `tofu version -json` keeps Terraform's field names; the binary's name says which it is.
    String json = "{\"terraform_version\":\"1.9.0\",\"platform\":\"linux_amd64\","
        + "\"provider_selections\":{},\"terraform_outdated\":false}";
    assertThat(TerraformVersion.parse(json, "tofu"))
        .isEqualTo(new TerraformVersion("tofu", "1.9.0", "linux_amd64"));
  }

  @Test
  void parse_garbage_isRefusedWithTheText() {
    assertThatThrownBy(() -> TerraformVersion.parse("Terraform v1.11.4"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Terraform v1.11.4");
    assertThatThrownBy(() -> Terraform.version(Path.of("/nonexistent/terraform")))
        .hasMessageContaining("/nonexistent/terraform");
  }
}
