package dev.outpost.agent.cli;

import dev.outpost.agent.terraform.TerraformVersion;

/**
 * The Terraform and OpenTofu versions the agent drives. The floors are where the machine-readable
 * interfaces it relies on exist: {@code init -json}, {@code terraform_data}, and the plan JSON's
 * configuration section (Terraform 1.5; OpenTofu forked from 1.6).
 */
final class SupportedVersions {
  static final int[] TERRAFORM_MIN = {1, 5, 0};
  static final int[] TOFU_MIN = {1, 6, 0};

  private SupportedVersions() {}

  /** Null when supported, else a message saying what is needed. */
  static String check(TerraformVersion v) {
    int[] min = v.name().equals("tofu") ? TOFU_MIN : TERRAFORM_MIN;
    int[] have = parse(v.version());
    if (have == null) {
      return v.name() + " reports version '" + v.version() + "', which is not MAJOR.MINOR.PATCH";
    }
    for (int i = 0; i < 3; i++) {
      if (have[i] != min[i]) {
        return have[i] > min[i] ? null : v.name() + " " + v.version() + " is too old: Outpost "
            + "needs " + v.name() + " " + min[0] + "." + min[1] + "." + min[2] + " or newer";
      }
    }
    return null;
  }

  static int[] parse(String version) {
    String[] parts = version.replaceFirst("^v", "").split("[.-]");
    if (parts.length < 3) {
      return null;
    }
    try {
      return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1]),
          Integer.parseInt(parts[2])};
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
