package dev.outpost.agent.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Both sandboxes, real processes: files, environment, exit status, stop and re-attach. */
class SandboxedProcessTest {
  @TempDir Path tmp;
  private SpecBuilder specs;

  private SpecBuilder specs() {
    specs = specs == null ? new SpecBuilder(tmp) : specs;
    return specs;
  }

  @AfterEach
  void noneLeft() {
    if (specs != null) {
      ProcessLeaks.killAll(specs.marker);
      ProcessLeaks.assertNoneLeft(specs.marker);
    }
  }

  private static Sandbox sandbox(String name) {
    return Sandbox.create(name, null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void run_outputGoesToFiles_andExitCodeIsRecorded(String name) throws Exception {
    SandboxSpec spec = specs().shell("echo to-out; echo to-err >&2; exit 7");
    SandboxedProcess p = sandbox(name).start(spec);

    assertThat(p.waitFor(Duration.ofSeconds(20))).contains(7);
    assertThat(Files.readString(spec.stdoutFile())).isEqualTo("to-out\n");
    assertThat(Files.readString(spec.stderrFile())).isEqualTo("to-err\n");
    assertThat(p.isAlive()).isFalse();
    // bwrap's status file may report before the wrapper's own record lands; both must agree.
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(spec.controlDir().resolve("exit")).hasContent("7"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void run_environmentIsExactlyTheSpec_nothingInheritedFromTheJvm(String name) throws Exception {
    specs().environment.put("SPACES", "a b  'c' \"d\" $HOME");
    SandboxSpec spec = specs().command("/usr/bin/env");
    SandboxedProcess p = sandbox(name).start(spec);

    assertThat(p.waitFor(Duration.ofSeconds(20))).contains(0);
    Map<String, String> seen = Files.readAllLines(spec.stdoutFile()).stream()
        .map(l -> l.split("=", 2))
        .collect(Collectors.toMap(kv -> kv[0], kv -> kv[1]));
    assertThat(seen).isEqualTo(spec.environment());
    assertThat(System.getenv()).containsKey("HOME"); // so its absence below means something
    assertThat(seen).doesNotContainKeys("HOME", "PWD", "TF_CLI_CONFIG_FILE");
    assertThat(seen.keySet()).noneMatch(k -> k.startsWith("OUTPOST_"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void run_noProcessOfTheJobWritesToAJvmPipe(String name) throws Exception {
    SandboxSpec spec = specs().shell("echo ready; exec sleep 1000");
    SandboxedProcess p = sandbox(name).start(spec);
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(spec.stdoutFile()).equals("ready\n"));

    long launched = Long.parseLong(Files.readString(spec.controlDir().resolve("pid")).split(" ")[0]);
    for (long pid : new long[] {launched, p.processGroupId()}) {
      for (int fd = 0; fd <= 2; fd++) {
        String target = Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + fd)).toString();
        assertThat(target).as("pid %d fd %d", pid, fd).doesNotStartWith("pipe:");
      }
    }
    assertThat(p.stop(Duration.ofSeconds(5))).isPresent();
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void stop_commandIgnoresSigint_everythingIsKilledAfterGrace(String name) throws Exception {
    SandboxSpec spec = specs().shell("trap '' INT; sleep 1000 & echo ready; sleep 1000");
    SandboxedProcess p = sandbox(name).start(spec);
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(spec.stdoutFile()).equals("ready\n"));
    await().atMost(Duration.ofSeconds(10)).until(() -> ProcessLeaks.matching(specs.marker).size() >= 3);

    Optional<Integer> code = p.stop(Duration.ofSeconds(1));

    assertThat(code).contains(137);
    assertThat(p.isAlive()).isFalse();
    ProcessLeaks.assertNoneLeft(specs.marker);
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void stop_commandExitsOnSigint_returnsWithinGrace(String name) throws Exception {
    SandboxSpec spec = specs().shell("echo ready; sleep 1000; echo not-reached");
    SandboxedProcess p = sandbox(name).start(spec);
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(spec.stdoutFile()).equals("ready\n"));

    Instant start = Instant.now();
    Optional<Integer> code = p.stop(Duration.ofSeconds(30));

    assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(5));
    assertThat(code).contains(130); // sh reports its child's death by SIGINT
    assertThat(p.stop(Duration.ofSeconds(30))).isEqualTo(code); // idempotent
    ProcessLeaks.assertNoneLeft(specs.marker);
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void stop_afterNormalExit_killsBackgroundChildrenLeftBehind(String name) throws Exception {
    SandboxSpec spec = specs().shell("sleep 1000 & echo done");
    SandboxedProcess p = sandbox(name).start(spec);

    assertThat(p.waitFor(Duration.ofSeconds(20))).contains(0);
    // The exit is reported while the orphan lives on (inside bwrap, its init waits for it).
    assertThat(ProcessLeaks.matching(specs.marker)).anyMatch(l -> l.contains("sleep 1000"));

    assertThat(p.stop(Duration.ZERO)).contains(0);
    ProcessLeaks.assertNoneLeft(specs.marker);
  }

  /**
   * A stop that finds the sandbox already being killed (by a stop in another thread, as when a
   * stage times out while the command ends) still returns only once everything inside is gone:
   * the exiting init can no longer be verified by its namespace, but it is still known.
   */
  @Test
  void stop_whileTheSandboxIsBeingKilled_returnsOnceNothingIsLeft() throws Exception {
    SandboxSpec spec = specs().shell("sleep 1000 & echo done");
    SandboxedProcess p = sandbox("bubblewrap").start(spec);
    assertThat(p.waitFor(Duration.ofSeconds(20))).contains(0);
    assertThat(ProcessLeaks.matching(specs.marker)).anyMatch(l -> l.contains("sleep 1000"));

    p.kill(); // the other stop's kill: the init now exits, and the kernel empties its namespace
    assertThat(p.stop(Duration.ZERO)).contains(0);
    // At once, not eventually: the caller reports the job over when stop returns.
    assertThat(ProcessLeaks.matching(specs.marker)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void reattach_fromControlDir_interruptsAndReadsTheExitCode(String name) throws Exception {
    SandboxSpec spec = specs().shell(
        "trap 'echo got-int; exit 42' INT; echo ready; while :; do sleep 0.05; done");
    SandboxedProcess original = sandbox(name).start(spec);
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(spec.stdoutFile()).equals("ready\n"));

    SandboxedProcess again = SandboxedProcess.reattach(spec.controlDir()).orElseThrow();
    assertThat(again.processGroupId()).isEqualTo(original.processGroupId());
    assertThat(again.isAlive()).isTrue();
    again.interrupt();

    assertThat(again.waitFor(Duration.ofSeconds(10))).contains(42);
    assertThat(Files.readString(spec.stdoutFile())).endsWith("got-int\n");
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void reattach_withoutRecordedPid_isEmpty(String name) throws IOException {
    Path ctl = Files.createDirectories(tmp.resolve("never-launched"));
    assertThat(SandboxedProcess.reattach(ctl)).isEmpty();
    Files.writeString(ctl.resolve("sandbox"), name);
    assertThat(SandboxedProcess.reattach(ctl)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"bubblewrap", "none"})
  void probe_works(String name) throws Exception {
    sandbox(name).probe(tmp);
    assertThat(Arrays.stream(tmp.toFile().list()).filter(n -> n.startsWith("probe-"))).isEmpty();
  }
}
