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
 * @param varFiles variable files (-var-file), which win over any *.auto.tfvars
 */
public record PlanOptions(Path out, boolean destroy, boolean detailedExitCode,
    List<String> targets, List<Path> varFiles) {
  public PlanOptions {
    Objects.requireNonNull(out, "out");
    targets = List.copyOf(targets);
    varFiles = List.copyOf(varFiles);
  }

  public PlanOptions(Path out, boolean destroy, boolean detailedExitCode) {
    this(out, destroy, detailedExitCode, List.of(), List.of());
  }

  public PlanOptions(Path out, boolean destroy, boolean detailedExitCode, List<String> targets) {
    this(out, destroy, detailedExitCode, targets, List.of());
  }

  /** The same options, reading variables from {@code file} too. */
  public PlanOptions withVarFile(Path file) {
    List<Path> files = new java.util.ArrayList<>(varFiles);
    files.add(file);
    return new PlanOptions(out, destroy, detailedExitCode, targets, files);
  }

  public static PlanOptions to(Path out) {
    return new PlanOptions(out, false, true);
  }
}
