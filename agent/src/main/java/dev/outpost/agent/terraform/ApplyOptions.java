package dev.outpost.agent.terraform;

import java.nio.file.Path;

/** @param planFileOrNull a saved plan to apply; null applies the configuration directly */
public record ApplyOptions(Path planFileOrNull) {
  public static ApplyOptions ofPlan(Path planFile) {
    return new ApplyOptions(planFile);
  }
}
