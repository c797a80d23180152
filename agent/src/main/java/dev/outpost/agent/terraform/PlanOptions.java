package dev.outpost.agent.terraform;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Options of `terraform plan`.
 *
 * @param out where the saved plan goes (-out); required, since applies use saved plans
 * @param destroy plan a destroy (-destroy)
 * @param detailedExitCode exit 2 means "changes present" (-detailed-exitcode)
 */
public record PlanOptions(Path out, boolean destroy, boolean detailedExitCode) {
  public PlanOptions {
    Objects.requireNonNull(out, "out");
  }

  public static PlanOptions to(Path out) {
    return new PlanOptions(out, false, true);
  }
}
