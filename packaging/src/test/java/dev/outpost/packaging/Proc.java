package dev.outpost.packaging;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a real process to its end, output to files (no pipe to fill), within a bound. */
final class Proc {
  static final Duration LIMIT = Duration.ofSeconds(60);

  record Result(List<String> command, int exitCode, String stdout, String stderr) {
    String describe() {
      return String.join(" ", command) + " exited " + exitCode + "\n--- stdout\n" + stdout
          + "--- stderr\n" + stderr;
    }
  }

  private Proc() {}

  static Result run(List<String> command) throws IOException, InterruptedException {
    return run(command, null);
  }

  /** @param env the whole environment of the process, or null to inherit this one's */
  static Result run(List<String> command, Map<String, String> env)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("proc", ".out");
    Path err = Files.createTempFile("proc", ".err");
    try {
      ProcessBuilder pb = new ProcessBuilder(command)
          .redirectOutput(out.toFile())
          .redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      if (env != null) {
        pb.environment().clear();
        pb.environment().putAll(env);
      }
      Process p = pb.start();
      if (!p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        throw new AssertionError(String.join(" ", command) + " did not end within " + LIMIT);
      }
      return new Result(command, p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /** Runs and fails the test unless the process exits 0. */
  static Result ok(List<String> command) throws IOException, InterruptedException {
    Result r = run(command);
    if (r.exitCode() != 0) {
      throw new AssertionError(r.describe());
    }
    return r;
  }

  /** The absolute path of NAME on PATH, or null. */
  static Path onPath(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(dir, name);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }
}
