package dev.outpost.agent.sandbox;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * A launched command, known only through the files its launch wrote, so that the same handle
 * can be rebuilt after a JVM restart.
 */
public interface SandboxedProcess {

  /** The process group to signal; blocks briefly until the launch has recorded it. */
  long processGroupId();

  /** Empty while running; read from the exit status the launch recorded. */
  Optional<Integer> exitCode();

  /** Waits up to timeout; returns the exit code if it ended. */
  Optional<Integer> waitFor(Duration timeout) throws InterruptedException;

  boolean isAlive();

  /** SIGINT to the whole process group inside the sandbox: Terraform stops its providers cleanly. */
  void interrupt();

  /** Last resort: SIGKILL to everything the command started. */
  void kill();

  /**
   * Two-phase stop: interrupt, wait up to grace, kill, then wait (bounded) for the end.
   * Idempotent. Returns the exit code if known.
   */
  Optional<Integer> stop(Duration grace) throws InterruptedException;

  /** The limits this launch enforces, as recorded in its control directory (for the job log). */
  LimitsInForce limitsInForce();

  /** Rebuilds a handle from the files in controlDir; empty if the launch never recorded a pid. */
  static Optional<SandboxedProcess> reattach(Path controlDir) {
    return LaunchedProcess.reattach(controlDir);
  }
}
