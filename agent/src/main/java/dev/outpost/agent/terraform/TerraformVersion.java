package dev.outpost.agent.terraform;

import java.io.IOException;

/**
 * Parsed `version -json`.
 *
 * @param name "terraform" or "tofu" (OpenTofu prints the same shape)
 */
public record TerraformVersion(String name, String version, String platform) {
  /** Assumes Terraform: OpenTofu prints the very same shape ("terraform_version" included). */
  public static TerraformVersion parse(String json) {
    return parse(json, "terraform");
  }

  /** @param name what the caller knows the binary to be, from its file name */
  static TerraformVersion parse(String json, String name) {
    java.util.List<java.util.Map<String, Object>> objects;
    try {
      objects = dev.outpost.agent.daemon.FlatJson.objects(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("`version -json` output is not a JSON object: "
          + abbreviate(json), e);
    }
    if (objects.size() != 1) {
      throw new IllegalArgumentException("`version -json` output is not one object: "
          + abbreviate(json));
    }
    Object version = objects.get(0).get("terraform_version");
    if (!(version instanceof String text) || text.isBlank()) {
      throw new IllegalArgumentException("`version -json` has no version field: " + abbreviate(json));
    }
    Object platform = objects.get(0).get("platform");
    return new TerraformVersion(name, text, platform instanceof String p ? p : "");
  }

  private static String abbreviate(String text) {
    return text.length() <= 200 ? text : text.substring(0, 200) + "...";
  }
}
