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

  private static final Path RESOLV_CONF = Path.of("/etc/resolv.conf");

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
  public LimitsInForce limitsInForce(SandboxLimits limits) {
    return LimitPlan.check(limits);
  }

  @Override
  public SandboxedProcess start(SandboxSpec spec) throws IOException {
    Path bwrap = binary().orElseThrow(() -> new IOException(
        "bwrap not found (" + (configuredBinary == null ? "PATH" : configuredBinary) + ")"));
    LimitPlan limits = LimitPlan.confined(spec.limits());
    try {
      return Launcher.launch(NAME, spec, arguments(bwrap, spec, limits.prlimit()), limits);
    } catch (IOException | RuntimeException e) {
      Cgroups.remove(limits.cgroups());
      throw e;
    }
  }

  /** The bwrap argv without rlimits; fds 3 and 4 are opened by the wrapper onto the control files. */
  static List<String> arguments(Path bwrap, SandboxSpec spec) {
    return arguments(bwrap, spec, List.of());
  }

  /**
   * @param prlimit a prefix ({@code /usr/bin/prlimit --nofile=N:N ... --}) run inside the
   *     sandbox before the command, or empty: bwrap sets no rlimits itself
   */
  static List<String> arguments(Path bwrap, SandboxSpec spec, List<String> prlimit) {
    List<String> a = new ArrayList<>();
    a.add(bwrap.toString());
    a.add("--unshare-all");
    if (spec.network()) {
      a.add("--share-net");
    }
    // Its own session: the inner bwrap (PID 1 inside) becomes the group leader we signal.
    a.add("--new-session");
    // Run by root, bwrap keeps every capability inside: root could then mount, mknod a disk,
    // raise its hard rlimits or move itself out of its cgroup.
    a.addAll(List.of("--cap-drop", "ALL"));
    List<Path> exposed = new ArrayList<>(List.of(Path.of("/usr"), Path.of("/etc")));
    a.addAll(List.of("--ro-bind", "/usr", "/usr"));
    for (String dir : SYSTEM_DIRS) {
      Path path = Path.of(dir);
      if (Files.isSymbolicLink(path)) {
        a.addAll(List.of("--symlink", readLink(path), dir));
      } else if (Files.isDirectory(path)) {
        a.addAll(List.of("--ro-bind", dir, dir));
        exposed.add(path);
      }
    }
    a.addAll(List.of("--ro-bind", "/etc", "/etc"));
    a.addAll(List.of("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"));

    List<Bind> binds = new ArrayList<>();
    if (spec.network()) {
      resolverTarget(RESOLV_CONF).ifPresent(t -> binds.add(new Bind("--ro-bind", t)));
    }
    binds.add(new Bind("--bind", spec.jobDir()));
    spec.readWritePaths().forEach(p -> binds.add(new Bind("--bind", p)));
    // Bound after the job dir so they override it: the command must not forge its pid or exit
    // status, nor truncate the log the agent is shipping.
    for (Path p : List.of(spec.controlDir(), spec.stdoutFile(), spec.stderrFile())) {
      if (p.startsWith(spec.jobDir())) {
        binds.add(new Bind("--ro-bind", p));
      }
    }
    spec.readOnlyPaths().forEach(p -> binds.add(new Bind("--ro-bind", p)));
    binds.forEach(b -> b.addTo(a));
    binds.forEach(b -> exposed.add(b.path()));

    List<Path> hiddenDirs = new ArrayList<>();
    List<Path> hidden = new ArrayList<>();
    for (Path h : spec.hiddenPaths()) {
      Optional<Path> real = realPath(h);
      if (real.isEmpty() || exposed.stream().noneMatch(real.get()::startsWith)) {
        continue; // not there, or not bound: invisible already
      }
      String p = real.get().toString();
      if (Files.isDirectory(real.get())) {
        a.addAll(List.of("--tmpfs", p));
        hiddenDirs.add(real.get());
      } else {
        a.addAll(List.of("--ro-bind", "/dev/null", p));
      }
      hidden.add(real.get());
    }
    // Explicit grants beneath a hidden directory (the job dir below a hidden state dir, a
    // credentials file in a hidden config dir) are bound again on top of the empty tmpfs.
    binds.stream()
        .filter(b -> hidden.stream().anyMatch(h -> !b.path().equals(h) && b.path().startsWith(h)))
        .forEach(b -> b.addTo(a));
    hiddenDirs.forEach(d -> a.addAll(List.of("--remount-ro", d.toString())));
    // The skeleton bwrap builds (mount points like the job dir's parents) is a writable tmpfs.
    a.addAll(List.of("--remount-ro", "/"));

    a.addAll(List.of("--chdir", spec.workingDir().toString()));
    a.addAll(List.of("--info-fd", "3", "--json-status-fd", "4"));
    a.add("--");
    a.addAll(prlimit);
    // bwrap sets PWD after every option is applied; only a process inside can remove it again.
    // Values travel through the inherited environment, never argv, where `ps` would show them.
    if (!spec.environment().containsKey("PWD")) {
      a.addAll(List.of("/usr/bin/env", "-u", "PWD", "--"));
    }
    a.addAll(spec.command());
    return a;
  }

  private record Bind(String option, Path path) {
    void addTo(List<String> argv) {
      argv.addAll(List.of(option, path.toString(), path.toString()));
    }
  }

  /**
   * Where a symlinked resolv.conf really lives when that is outside /usr and /etc (systemd-
   * resolved's /run/systemd/resolve/stub-resolv.conf): bound too, or name resolution breaks.
   */
  static Optional<Path> resolverTarget(Path resolvConf) {
    if (!Files.isSymbolicLink(resolvConf)) {
      return Optional.empty();
    }
    return realPath(resolvConf).filter(t -> !t.startsWith("/usr") && !t.startsWith("/etc"));
  }

  private static Optional<Path> realPath(Path p) {
    try {
      return Optional.of(p.toRealPath());
    } catch (IOException e) {
      return Optional.empty();
    }
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
