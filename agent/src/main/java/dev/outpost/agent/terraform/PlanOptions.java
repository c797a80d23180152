package dev.outpost.agent.terraform;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Options of `terraform plan`.
 *
 * @param out where the saved plan goes (-out); required, since applies use saved plans
 * @param destroy plan a destroy (-destroy)
 * @param detailedExitCode exit 2 means "changes present" (-detailed-exitcode)
 * @param targets resource addresses to restrict the plan to (-target), usually none
 */
public record PlanOptions(Path out, boolean destroy, boolean detailedExitCode,
    List<String> targets) {
  public PlanOptions {
    Objects.requireNonNull(out, "out");
    targets = List.copyOf(targets);
  }

  public PlanOptions(Path out, boolean destroy, boolean detailedExitCode) {
    this(out, destroy, detailedExitCode, List.of());
  }

  public static PlanOptions to(Path out) {
    return new PlanOptions(out, false, true);
  }
}
