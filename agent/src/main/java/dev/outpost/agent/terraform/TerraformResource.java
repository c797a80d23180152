package dev.outpost.agent.terraform;

/**
 * A resource instance from the state, in any module.
 *
 * @param address full address, e.g. "module.net.terraform_data.x[0]"
 * @param provider provider_name, e.g. "terraform.io/builtin/terraform"
 * @param mode "managed" or "data"
 */
public record TerraformResource(String address, String type, String name, String provider, String mode) {}
