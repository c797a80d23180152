package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's commands, run as a user runs them: {@code ./outpost demo}, and the "by hand"
 * block copied out of README.md and run with bash.
 */
class LauncherIT {
  @TempDir
  Path tmp;

  private Process running;

  @AfterEach
  void killLeftovers() throws Exception {
    if (running != null && running.isAlive()) {
      // The scripts run in their own session (setsid): its id is the group to kill.
      new ProcessBuilder("kill", "-KILL", "--", "-" + running.pid()).start().waitFor();
    }
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  @Test
  void demo_appliesTheExample_printsOutputsWithSecretsMasked_andExitsZero() throws Exception {
    Path log = tmp.resolve("demo.log");
    running = start(List.of(Jars.repoRoot().resolve("outpost").toString(), "demo"),
        Jars.repoRoot(), log);
    assertThat(running.waitFor(120, TimeUnit.SECONDS)).as("demo finished").isTrue();
    String output = Files.readString(log);
    assertThat(running.exitValue()).as(output).isZero();
    assertThat(output).contains("line 1: Hello from Outpost", "line 5",
        "greeting = \"Hello from Outpost\"", "api_token = (sensitive)", "status:     succeeded");
    assertThat(Pattern.compile("tok_[0-9a-f]{16}").matcher(output).find())
        .as("the demo's secret never printed").isFalse();
  }

  @Test
  void readmeByHandBlock_runsAsWritten() throws Exception {
    String readme = Files.readString(Jars.repoRoot().resolve("README.md"));
    String block = readme.substring(readme.indexOf("<!-- by-hand:start -->"),
        readme.indexOf("<!-- by-hand:end -->"));
    String script = block.substring(block.indexOf("```sh") + 5, block.lastIndexOf("```"));
    // Run it in a scratch directory that looks like the repository root to the commands.
    Files.createSymbolicLink(tmp.resolve("outpost"), Jars.repoRoot().resolve("outpost"));
    Files.createSymbolicLink(tmp.resolve("examples"), Jars.repoRoot().resolve("examples"));
    Path file = Files.writeString(tmp.resolve("by-hand.sh"), "set -euo pipefail\n" + script);
    Path log = tmp.resolve("by-hand.log");
    running = start(List.of("bash", file.toString()), tmp, log);
    assertThat(running.waitFor(180, TimeUnit.SECONDS)).as("script finished").isTrue();
    String output = Files.readString(log);
    assertThat(running.exitValue()).as(output).isZero();
    assertThat(output).contains("line 1: Hello from Outpost", "status:     succeeded",
        "api_token = (sensitive)").doesNotContain("change-me");
  }

  private static Process start(List<String> command, Path dir, Path log) throws IOException {
    List<String> full = new java.util.ArrayList<>(List.of("setsid"));
    full.addAll(command);
    ProcessBuilder builder = new ProcessBuilder(full).directory(dir.toFile())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().put("OUTPOST_NO_BUILD", "1");
    return builder.start();
  }
}
