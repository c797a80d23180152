package dev.outpost.agent.sandbox;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What to run and how to confine it.
 *
 * @param jobDir read-write inside the sandbox at the same path
 * @param workingDir the command's working directory (inside {@code jobDir})
 * @param command argv; element 0 is the absolute path of the binary
 * @param environment the complete environment of the command; nothing is inherited
 * @param readOnlyPaths extra paths bound read-only at the same path
 * @param readWritePaths extra paths bound read-write at the same path (e.g. the provider cache
 *     during {@code init}); a read-only path inside one of them stays read-only
 * @param network true: share the host network namespace; false: loopback only
 * @param stdoutFile appended to by the launched process itself, never through a JVM pipe
 * @param stderrFile appended to by the launched process itself
 * @param controlDir where the launch records its pid and exit status; read-only inside the
 *     sandbox so the confined command cannot forge them
 * @param hiddenPaths paths that must not be visible even where they sit under a bound
 *     directory (the agent's config and environment files under /etc, its state directory):
 *     a directory is covered by an empty tmpfs, a file by an empty read-only file. Paths that
 *     are not bound are invisible anyway. A path bound explicitly (the job directory, a
 *     read-only or read-write path) inside a hidden one stays visible: grants win.
 * @param limits resource limits; {@link SandboxLimits#NONE} for none
 */
public record SandboxSpec(
    Path jobDir,
    Path workingDir,
    List<String> command,
    Map<String, String> environment,
    List<Path> readOnlyPaths,
    List<Path> readWritePaths,
    boolean network,
    Path stdoutFile,
    Path stderrFile,
    Path controlDir,
    List<Path> hiddenPaths,
    SandboxLimits limits) {

  public SandboxSpec {
    jobDir = absolute("jobDir", jobDir);
    workingDir = absolute("workingDir", workingDir);
    stdoutFile = absolute("stdoutFile", stdoutFile);
    stderrFile = absolute("stderrFile", stderrFile);
    controlDir = absolute("controlDir", controlDir);
    command = List.copyOf(command);
    if (command.isEmpty() || !command.get(0).startsWith("/")) {
      throw new IllegalArgumentException(
          "command[0] must be an absolute path of the binary, got " + command);
    }
    environment = Map.copyOf(environment);
    for (String name : environment.keySet()) {
      if (name.isEmpty() || name.contains("=") || name.indexOf('\0') >= 0) {
        throw new IllegalArgumentException("environment name is not valid: '" + name + "'");
      }
    }
    readOnlyPaths = readOnlyPaths.stream().map(p -> absolute("readOnlyPaths", p)).toList();
    readWritePaths = readWritePaths.stream().map(p -> absolute("readWritePaths", p)).toList();
    hiddenPaths = hiddenPaths.stream().map(p -> absolute("hiddenPaths", p)).toList();
    Objects.requireNonNull(limits, "limits (use SandboxLimits.NONE)");
    for (Path hidden : hiddenPaths) {
      if (jobDir.startsWith(hidden) && (jobDir.equals(hidden) || hidden.getNameCount() == 0)) {
        throw new IllegalArgumentException(
            "hiddenPaths " + hidden + " would hide the job directory " + jobDir);
      }
    }
    if (!workingDir.startsWith(jobDir)) {
      throw new IllegalArgumentException(
          "workingDir " + workingDir + " must be inside jobDir " + jobDir);
    }
  }

  /** Nothing hidden beyond what is not bound, no limits. */
  public SandboxSpec(Path jobDir, Path workingDir, List<String> command,
      Map<String, String> environment, List<Path> readOnlyPaths, List<Path> readWritePaths,
      boolean network, Path stdoutFile, Path stderrFile, Path controlDir) {
    this(jobDir, workingDir, command, environment, readOnlyPaths, readWritePaths, network,
        stdoutFile, stderrFile, controlDir, List.of(), SandboxLimits.NONE);
  }

  /** Without extra read-write paths. */
  public SandboxSpec(Path jobDir, Path workingDir, List<String> command,
      Map<String, String> environment, List<Path> readOnlyPaths, boolean network,
      Path stdoutFile, Path stderrFile, Path controlDir) {
    this(jobDir, workingDir, command, environment, readOnlyPaths, List.of(), network, stdoutFile,
        stderrFile, controlDir, List.of(), SandboxLimits.NONE);
  }

  public SandboxSpec withHiddenPaths(List<Path> paths) {
    return new SandboxSpec(jobDir, workingDir, command, environment, readOnlyPaths,
        readWritePaths, network, stdoutFile, stderrFile, controlDir, paths, limits);
  }

  public SandboxSpec withLimits(SandboxLimits newLimits) {
    return new SandboxSpec(jobDir, workingDir, command, environment, readOnlyPaths,
        readWritePaths, network, stdoutFile, stderrFile, controlDir, hiddenPaths, newLimits);
  }

  private static Path absolute(String what, Path path) {
    Objects.requireNonNull(path, what);
    if (!path.isAbsolute()) {
      throw new IllegalArgumentException(what + " must be an absolute path, got " + path);
    }
    return path.normalize();
  }
}
