package dev.outpost.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.agent.terraform.TerraformVersion;
import org.junit.jupiter.api.Test;

class SupportedVersionsTest {
  @Test
  void terraformFromOneFive_andTofuFromOneSix_areSupported() {
    assertThat(SupportedVersions.check(new TerraformVersion("terraform", "1.11.4", "linux_amd64")))
        .isNull();
    assertThat(SupportedVersions.check(new TerraformVersion("terraform", "1.5.0", ""))).isNull();
    assertThat(SupportedVersions.check(new TerraformVersion("tofu", "1.8.2", ""))).isNull();
    assertThat(SupportedVersions.check(new TerraformVersion("terraform", "2.0.0-beta1", "")))
        .isNull();
  }

  @Test
  void olderVersions_areRefused_withWhatIsNeeded() {
    assertThat(SupportedVersions.check(new TerraformVersion("terraform", "1.4.7", "")))
        .isEqualTo("terraform 1.4.7 is too old: Outpost needs terraform 1.5.0 or newer");
    assertThat(SupportedVersions.check(new TerraformVersion("tofu", "1.5.9", "")))
        .contains("needs tofu 1.6.0 or newer");
    assertThat(SupportedVersions.check(new TerraformVersion("terraform", "banana", "")))
        .contains("not MAJOR.MINOR.PATCH");
  }
}
