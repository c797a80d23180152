package dev.outpost.agent.sandbox;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Run in a separate JVM: starts a command, then dies like a crash (no shutdown hooks). */
public final class LaunchAndHalt {
  private LaunchAndHalt() {}

  /** args: sandbox, jobDir, controlDir, stdout, stderr, marker, script */
  public static void main(String[] args) throws Exception {
    Path jobDir = Path.of(args[1]);
    SandboxSpec spec = new SandboxSpec(jobDir, jobDir, List.of("/bin/sh", "-c", args[6]),
        Map.of("PATH", "/usr/bin:/bin", ProcessLeaks.MARKER_VARIABLE, args[5]), List.of(), false,
        Path.of(args[3]), Path.of(args[4]), Path.of(args[2]));
    Sandbox.create(args[0], null).start(spec);
    Runtime.getRuntime().halt(0);
  }
}
