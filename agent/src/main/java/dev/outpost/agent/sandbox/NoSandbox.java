package dev.outpost.agent.sandbox;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * No confinement (the operator opted out). Same files and signal semantics as bubblewrap:
 * setsid gives the command its own session and process group, PID = PGID, because the
 * wrapper's background child is never a group leader and setsid then execs in place.
 */
final class NoSandbox implements Sandbox {
  static final String NAME = "none";
  private static final String SETSID = "/usr/bin/setsid";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public void probe(Path scratchDir) throws SandboxUnavailableException {
    Probe.run(this, scratchDir);
  }

  @Override
  public LimitsInForce limitsInForce(SandboxLimits limits) {
    return LimitPlan.unconfined(limits).report();
  }

  @Override
  public SandboxedProcess start(SandboxSpec spec) throws IOException {
    // Read-only and hidden paths, limits and network=false cannot be enforced without namespaces; choosing
    // "none" is the operator's explicit opt-out, so they are ignored rather than refused.
    List<String> argv = new ArrayList<>();
    argv.add(SETSID);
    argv.addAll(spec.command());
    return Launcher.launch(NAME, spec, argv, LimitPlan.unconfined(spec.limits()));
  }
}
