package dev.outpost.agent.terraform;

import java.util.List;

/** What `show -json` says about a state: outputs and resources (root and child modules). */
public record TerraformState(List<TerraformOutput> outputs, List<TerraformResource> resources) {
  public TerraformState {
    outputs = List.copyOf(outputs);
    resources = List.copyOf(resources);
  }
}
