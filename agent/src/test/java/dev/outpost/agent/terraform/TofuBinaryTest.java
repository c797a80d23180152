package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * With a real OpenTofu binary on PATH, the agent's version probe names it "tofu". OpenTofu is
 * not installable from the registries these machines reach, so this usually skips, and says
 * so; {@code TerraformVersionTest} covers the parsing with a recorded {@code tofu version -json}.
 */
class TofuBinaryTest {
  @Test
  void realTofuBinary_isRecognised() throws Exception {
    Optional<Path> tofu = Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":"))
        .map(dir -> Path.of(dir, "tofu")).filter(Files::isExecutable).findFirst();
    if (tofu.isEmpty()) {
      System.out.println("SKIPPED: TofuBinaryTest: no `tofu` on PATH");
    }
    Assumptions.assumeTrue(tofu.isPresent(), "no `tofu` on PATH");
    TerraformVersion version = Terraform.version(tofu.get());
    assertThat(version.name()).isEqualTo("tofu");
    assertThat(version.version()).matches("\\d+\\.\\d+\\.\\d+.*");
  }
}
