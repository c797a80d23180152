package dev.outpost.agent.terraform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * Parsed `version -json`.
 *
 * @param name "terraform" or "tofu" (OpenTofu prints the same shape)
 */
public record TerraformVersion(String name, String version, String platform) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Assumes Terraform: OpenTofu prints the very same shape ("terraform_version" included). */
  public static TerraformVersion parse(String json) {
    return parse(json, "terraform");
  }

  /** @param name what the caller knows the binary to be, from its file name */
  static TerraformVersion parse(String json, String name) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("`version -json` output is not JSON: " + abbreviate(json), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("`version -json` output is not an object: " + abbreviate(json));
    }
    JsonNode version = root.get("terraform_version");
    if (version == null || !version.isTextual() || version.asText().isBlank()) {
      throw new IllegalArgumentException("`version -json` has no version field: " + abbreviate(json));
    }
    return new TerraformVersion(name, version.asText(), root.path("platform").asText(""));
  }

  private static String abbreviate(String text) {
    return text.length() <= 200 ? text : text.substring(0, 200) + "...";
  }
}
