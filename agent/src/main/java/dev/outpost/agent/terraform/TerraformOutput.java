package dev.outpost.agent.terraform;

/**
 * A root module output from the state. Values of sensitive outputs are present in clear text:
 * the whole record is a secret payload.
 *
 * @param valueJson the value as JSON text ("null" if Terraform gave none)
 * @param typeJson Terraform's type as JSON text (e.g. "\"string\"", "[\"list\",\"number\"]"),
 *     null if absent
 */
public record TerraformOutput(String name, String valueJson, boolean sensitive, String typeJson) {}
