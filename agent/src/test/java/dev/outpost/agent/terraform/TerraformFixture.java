package dev.outpost.agent.terraform;

import dev.outpost.agent.sandbox.ProcessLeaks;
import dev.outpost.agent.sandbox.Sandbox;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

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

  /** A runner with a provider cache and mirrors; extra variables reach it by pass-through. */
  Terraform terraform(ProviderCache cache, List<Path> mirrors, Map<String, String> extra)
      throws IOException {
    Map<String, String> agentEnv = new HashMap<>(extra);
    agentEnv.put(ProcessLeaks.MARKER_VARIABLE, marker);
    List<String> names = new ArrayList<>(extra.keySet());
    names.add(ProcessLeaks.MARKER_VARIABLE);
    Map<String, String> env = TerraformEnvironment.forJob(jobDir).passThrough(names, agentEnv)
        .providerMirrors(mirrors).build();
    return new Terraform(binary(), source, jobDir, Sandbox.create("bubblewrap", null), env, false)
        .withProviders(cache, mirrors);
  }

  /** Copies a directory of the repository's examples/ into the source dir. */
  TerraformFixture example(String name) throws IOException {
    Path dir = repoRoot().resolve("examples").resolve(name);
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        Files.copy(f, source.resolve(f.getFileName().toString()));
      }
    }
    return this;
  }

  static Path repoRoot() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("examples")) && Files.exists(p.resolve("agent"))) {
        return p;
      }
    }
    throw new IllegalStateException("no repository root above " + Path.of("").toAbsolutePath());
  }
}
