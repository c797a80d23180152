package dev.outpost.agent.terraform;

import dev.outpost.agent.sandbox.ProcessLeaks;
import dev.outpost.agent.sandbox.Sandbox;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A job directory with a Terraform configuration, and a runner on it under bubblewrap. */
final class TerraformFixture {
  final Path jobDir;
  final Path source;
  final String marker = ProcessLeaks.newMarker();

  TerraformFixture(Path tmp) throws IOException {
    this.jobDir = Files.createDirectories(tmp.toAbsolutePath().resolve("job"));
    this.source = Files.createDirectories(jobDir.resolve("source"));
  }

  static Path binary() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path candidate = Path.of(dir, "terraform");
      if (!dir.isEmpty() && Files.isExecutable(candidate)) {
        return candidate.toAbsolutePath();
      }
    }
    throw new IllegalStateException("terraform is not on PATH");
  }

  TerraformFixture file(String name, String text) throws IOException {
    Path file = source.resolve(name);
    Files.createDirectories(file.getParent());
    Files.writeString(file, text);
    return this;
  }

  Terraform terraform() throws IOException {
    Map<String, String> env = TerraformEnvironment.forJob(jobDir)
        .passThrough(List.of(ProcessLeaks.MARKER_VARIABLE), Map.of(ProcessLeaks.MARKER_VARIABLE, marker))
        .build();
    return new Terraform(binary(), source, jobDir, Sandbox.create("bubblewrap", null), env, false);
  }
}
