package dev.outpost.agent.sandbox;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Confinement with bubblewrap: all namespaces unshared, a read-only view of the system, the job
 * directory writable. Deliberately without --die-with-parent: an apply must survive a JVM crash.
 */
final class Bubblewrap implements Sandbox {
  static final String NAME = "bubblewrap";

  /** On merged-/usr systems these are symlinks into /usr; elsewhere real directories. */
  private static final List<String> SYSTEM_DIRS =
      List.of("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32");

  private final Path configuredBinary;

  Bubblewrap(Path bwrapBinary) {
    this.configuredBinary = bwrapBinary;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public void probe(Path scratchDir) throws SandboxUnavailableException {
    if (binary().isEmpty()) {
      throw new SandboxUnavailableException(configuredBinary == null
          ? "bwrap was not found on PATH (install bubblewrap, or choose sandbox 'none')"
          : "bwrap binary " + configuredBinary + " does not exist or is not executable");
    }
    Probe.run(this, scratchDir);
  }

  @Override
  public SandboxedProcess start(SandboxSpec spec) throws IOException {
    Path bwrap = binary().orElseThrow(() -> new IOException(
        "bwrap not found (" + (configuredBinary == null ? "PATH" : configuredBinary) + ")"));
    return Launcher.launch(NAME, spec, arguments(bwrap, spec));
  }

  /** The bwrap argv; fds 3 and 4 are opened by the wrapper onto the control files. */
  static List<String> arguments(Path bwrap, SandboxSpec spec) {
    List<String> a = new ArrayList<>();
    a.add(bwrap.toString());
    a.add("--unshare-all");
    if (spec.network()) {
      a.add("--share-net");
    }
    // Its own session: the inner bwrap (PID 1 inside) becomes the group leader we signal.
    a.add("--new-session");
    a.addAll(List.of("--ro-bind", "/usr", "/usr"));
    for (String dir : SYSTEM_DIRS) {
      Path path = Path.of(dir);
      if (Files.isSymbolicLink(path)) {
        a.addAll(List.of("--symlink", readLink(path), dir));
      } else if (Files.isDirectory(path)) {
        a.addAll(List.of("--ro-bind", dir, dir));
      }
    }
    a.addAll(List.of("--ro-bind", "/etc", "/etc"));
    a.addAll(List.of("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"));
    String job = spec.jobDir().toString();
    a.addAll(List.of("--bind", job, job));
    for (Path p : spec.readWritePaths()) {
      a.addAll(List.of("--bind", p.toString(), p.toString()));
    }
    // Bound after the job dir so they override it: the command must not forge its pid or exit
    // status, nor truncate the log the agent is shipping.
    for (Path p : List.of(spec.controlDir(), spec.stdoutFile(), spec.stderrFile())) {
      if (p.startsWith(spec.jobDir())) {
        a.addAll(List.of("--ro-bind", p.toString(), p.toString()));
      }
    }
    for (Path p : spec.readOnlyPaths()) {
      a.addAll(List.of("--ro-bind", p.toString(), p.toString()));
    }
    a.addAll(List.of("--chdir", spec.workingDir().toString()));
    a.addAll(List.of("--info-fd", "3", "--json-status-fd", "4"));
    a.add("--");
    // bwrap sets PWD after every option is applied; only a process inside can remove it again.
    // Values travel through the inherited environment, never argv, where `ps` would show them.
    if (!spec.environment().containsKey("PWD")) {
      a.addAll(List.of("/usr/bin/env", "-u", "PWD", "--"));
    }
    a.addAll(spec.command());
    return a;
  }

  private static String readLink(Path link) {
    try {
      return Files.readSymbolicLink(link).toString();
    } catch (IOException e) {
      throw new IllegalStateException("cannot read symlink " + link, e);
    }
  }

  Optional<Path> binary() {
    if (configuredBinary != null) {
      return Files.isExecutable(configuredBinary)
          ? Optional.of(configuredBinary.toAbsolutePath()) : Optional.empty();
    }
    String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
    for (String dir : path.split(File.pathSeparator)) {
      if (!dir.isEmpty()) {
        Path candidate = Path.of(dir, "bwrap");
        if (Files.isExecutable(candidate)) {
          return Optional.of(candidate.toAbsolutePath());
        }
      }
    }
    return Optional.empty();
  }
}
