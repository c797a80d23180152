package dev.outpost.agent.sandbox;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test-side defaults for a spec: a job dir, files under .outpost, a marker in the env. */
final class SpecBuilder {
  final Path jobDir;
  final String marker = ProcessLeaks.newMarker();
  final Map<String, String> environment = new LinkedHashMap<>();
  boolean network;
  List<Path> readOnly = List.of();
  List<Path> readWrite = List.of();
  List<Path> hidden = List.of();
  SandboxLimits limits = SandboxLimits.NONE;
  private int runs;

  SpecBuilder(Path jobDir) {
    this.jobDir = jobDir.toAbsolutePath();
    environment.put("PATH", "/usr/bin:/bin");
    environment.put(ProcessLeaks.MARKER_VARIABLE, marker);
  }

  SandboxSpec shell(String script) {
    return command("/bin/sh", "-c", script);
  }

  SandboxSpec command(String... argv) {
    runs++;
    Path run = jobDir.resolve(".outpost/run");
    return new SandboxSpec(jobDir, jobDir, List.of(argv), environment, readOnly, readWrite, network,
        run.resolve(runs + ".stdout"), run.resolve(runs + ".stderr"), run.resolve(runs + ""),
        hidden, limits);
  }
}
