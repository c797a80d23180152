package dev.outpost.agent.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.lang.ProcessBuilder.Redirect;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The design's central promise: a JVM that dies does not take the running command with it. */
class JvmCrashTest {
  @TempDir Path tmp;
  private final String marker = ProcessLeaks.newMarker();

  @AfterEach
  void noneLeft() {
    ProcessLeaks.killAll(marker);
    ProcessLeaks.assertNoneLeft(marker);
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void jvmHalts_commandKeepsRunning_andANewHandleSeesItsExit(String name) throws Exception {
    Path job = tmp.toAbsolutePath();
    Path ctl = job.resolve(".outpost/run/01-apply");
    Path out = job.resolve(".outpost/run/01-apply.stdout");
    Path go = job.resolve("go");
    String script = "echo ready; while [ ! -e " + go + " ]; do sleep 0.05; done; echo finished; exit 5";
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");

    Process jvm = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        LaunchAndHalt.class.getName(), name, job.toString(), ctl.toString(), out.toString(),
        job.resolve(".outpost/run/01-apply.stderr").toString(), marker, script)
        .redirectOutput(Redirect.DISCARD).redirectError(Redirect.DISCARD).start();
    assertThat(jvm.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(jvm.exitValue()).isZero();

    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(out) && Files.readString(out).equals("ready\n"));
    SandboxedProcess again = SandboxedProcess.reattach(ctl).orElseThrow();
    assertThat(again.isAlive()).isTrue();
    assertThat(again.exitCode()).isEmpty();

    Files.createFile(go);

    assertThat(again.waitFor(Duration.ofSeconds(10))).contains(5);
    assertThat(out).hasContent("ready\nfinished");
  }
}
