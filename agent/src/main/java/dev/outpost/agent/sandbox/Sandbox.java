package dev.outpost.agent.sandbox;

import java.io.IOException;
import java.nio.file.Path;

/** How a job's command is confined. Implementations launch without holding pipes to it. */
public interface Sandbox {

  String name();

  /**
   * Runs a trivial command through the sandbox; throws with a message naming the cause (bwrap
   * missing, user namespaces refused, ...) when it does not work.
   */
  void probe(Path scratchDir) throws SandboxUnavailableException;

  /**
   * Which of these limits a launch would enforce on this host (prlimit present, cgroups
   * creatable), for the agent's start-up log; each launch reports its own through
   * {@link SandboxedProcess#limitsInForce()}.
   */
  LimitsInForce limitsInForce(SandboxLimits limits);

  /** Starts the command confined as described; returns at once. */
  SandboxedProcess start(SandboxSpec spec) throws IOException;

  /**
   * @param name "bubblewrap" or "none"
   * @param bwrapBinary the bwrap executable; null means "bwrap" found on PATH
   */
  static Sandbox create(String name, Path bwrapBinary) {
    return switch (name) {
      case Bubblewrap.NAME -> new Bubblewrap(bwrapBinary);
      case NoSandbox.NAME -> new NoSandbox();
      default -> throw new IllegalArgumentException(
          "sandbox '" + name + "' is not known; allowed: " + Bubblewrap.NAME + ", " + NoSandbox.NAME);
    };
  }
}
