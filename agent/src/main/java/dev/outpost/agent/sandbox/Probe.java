package dev.outpost.agent.sandbox;

import dev.outpost.agent.workspace.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/** Runs /bin/true through a sandbox and turns any failure into a message an operator can act on. */
final class Probe {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  private Probe() {}

  static void run(Sandbox sandbox, Path scratchDir) throws SandboxUnavailableException {
    Path dir = scratchDir.toAbsolutePath().resolve("probe-" + UUID.randomUUID());
    Path ctl = dir.resolve("control");
    try {
      Files.createDirectories(dir);
      SandboxSpec spec = new SandboxSpec(dir, dir, List.of("/bin/true"),
          Map.of("PATH", "/usr/bin:/bin"), List.of(), false,
          dir.resolve("stdout"), dir.resolve("stderr"), ctl);
      SandboxedProcess process = sandbox.start(spec);
      Optional<Integer> code = process.waitFor(TIMEOUT);
      if (code.isEmpty()) {
        process.stop(Duration.ofSeconds(1));
        throw new SandboxUnavailableException("sandbox '" + sandbox.name()
            + "' did not run /bin/true within " + TIMEOUT + ": " + stderr(spec));
      }
      if (code.get() != 0) {
        throw new SandboxUnavailableException("sandbox '" + sandbox.name()
            + "' cannot run /bin/true (exit " + code.get() + "): " + stderr(spec));
      }
      awaitWrapper(ctl);
    } catch (IOException e) {
      throw new SandboxUnavailableException(
          "sandbox '" + sandbox.name() + "' cannot start a process: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SandboxUnavailableException("interrupted while probing " + sandbox.name(), e);
    } finally {
      deleteQuietly(dir);
    }
  }

  /**
   * bwrap reports the exit before the launch's wrapper shell records its own and ends; the
   * scratch directory is removed only after that, or the wrapper's last file would outlive it.
   */
  private static void awaitWrapper(Path ctl) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (!Files.exists(ctl.resolve(ControlFiles.EXIT)) && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
  }

  private static String stderr(SandboxSpec spec) {
    try {
      String text = Launcher.tail(Files.readString(spec.stderrFile(), StandardCharsets.UTF_8));
      return text.isEmpty() ? "(no message on stderr)" : text;
    } catch (IOException e) {
      return "(no stderr: " + e.getMessage() + ")";
    }
  }

  private static void deleteQuietly(Path dir) {
    try {
      Trees.deleteRecursively(dir);
    } catch (IOException ignored) {
      // scratch leftovers are harmless
    }
  }
}
