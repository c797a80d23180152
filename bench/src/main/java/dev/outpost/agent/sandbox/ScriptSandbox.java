package dev.outpost.agent.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The bubblewrap sandbox, written down instead of launched: each {@link #start} appends to a
 * shell script the command line the agent's launch would run (the same bwrap arguments, rlimits,
 * environment and output files), so that the benchmark's bare baseline runs exactly the agent's
 * Terraform commands, confined the same way, with nothing of the agent around them.
 *
 * <p>The cgroups that enforce the sandbox's process (and memory, CPU) limits are part of the
 * sandbox: each command joins them before it starts, as under the agent, and they are removed
 * after it. What the script leaves out is the agent's own launch wrapper (setsid, a /bin/sh
 * that records the pid and exit status): that is part of the agent's overhead, which the
 * benchmark measures.
 */
public final class ScriptSandbox implements Sandbox {
  private final Bubblewrap bubblewrap = new Bubblewrap(null);
  private final List<String> lines = new ArrayList<>();

  @Override
  public String name() {
    return Bubblewrap.NAME;
  }

  @Override
  public void probe(Path scratchDir) throws SandboxUnavailableException {
    bubblewrap.probe(scratchDir);
  }

  @Override
  public LimitsInForce limitsInForce(SandboxLimits limits) {
    return bubblewrap.limitsInForce(limits);
  }

  /**
   * Appends the launch to the script. A command that may exit 2 by design (a plan with
   * -detailed-exitcode) is allowed to; any other non-zero status stops the script.
   */
  @Override
  public SandboxedProcess start(SandboxSpec spec) throws IOException {
    Path bwrap = bubblewrap.binary().orElseThrow(() -> new IOException("bwrap not found"));
    Files.createDirectories(spec.controlDir());
    LimitPlan limits = LimitPlan.confined(spec.limits());
    List<String> argv = new ArrayList<>(List.of("/usr/bin/env", "-i"));
    spec.environment().forEach((k, v) -> argv.add(k + "=" + v));
    argv.addAll(Bubblewrap.arguments(bwrap, spec, limits.prlimit()));
    StringBuilder command = new StringBuilder("( ");
    for (Path cgroup : limits.cgroups()) {
      command.append("echo 0 > ").append(quote(cgroup.resolve("cgroup.procs").toString()))
          .append(" && ");
    }
    command.append("exec ");
    argv.forEach(a -> command.append(quote(a)).append(' '));
    Path ctl = spec.controlDir();
    command.append(") 3>").append(quote(ctl.resolve("info.json").toString()))
        .append(" 4>").append(quote(ctl.resolve("status.json").toString()))
        .append(" >").append(quote(spec.stdoutFile().toString()))
        .append(" 2>").append(quote(spec.stderrFile().toString()))
        .append(" </dev/null; rc=$?;");
    for (Path cgroup : limits.cgroups()) {
      command.append(" for i in 1 2 3 4 5 6 7 8 9 10; do rmdir ")
          .append(quote(cgroup.toString())).append(" 2>/dev/null && break; sleep 0.01; done;");
    }
    boolean mayExit2 = spec.command().contains("-detailed-exitcode");
    lines.add("cd " + quote(spec.workingDir().toString()) + " || exit 1; " + command
        + (mayExit2 ? " [ $rc = 0 ] || [ $rc = 2 ] || exit $rc" : " [ $rc = 0 ] || exit $rc"));
    return ENDED;
  }

  /** The script: every command in the order started, stopping at the first that fails. */
  public String script() {
    return "#!/bin/bash\n" + String.join("\n", lines) + "\n";
  }

  static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  /** What the workflow code sees of a written-down launch: ended at once, with status 0. */
  private static final SandboxedProcess ENDED = new SandboxedProcess() {
    @Override
    public long processGroupId() {
      return 0;
    }

    @Override
    public Optional<Integer> exitCode() {
      return Optional.of(0);
    }

    @Override
    public Optional<Integer> waitFor(Duration timeout) {
      return exitCode();
    }

    @Override
    public boolean isAlive() {
      return false;
    }

    @Override
    public void interrupt() {}

    @Override
    public void kill() {}

    @Override
    public Optional<Integer> stop(Duration grace) {
      return exitCode();
    }

    @Override
    public LimitsInForce limitsInForce() {
      return new LimitsInForce(Map.of(), Map.of());
    }
  };
}
