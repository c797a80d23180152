package dev.outpost.agent.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Limits: what is enforced inside bubblewrap, how it is reported, and that cgroups go away. */
class SandboxLimitsTest {
  private static final SandboxLimits SMALL =
      new SandboxLimits(64L, 1L << 20, 0L, 64L, 256L << 20, 500L);

  @TempDir Path tmp;
  private SpecBuilder specs;
  private final Sandbox bwrap = Sandbox.create("bubblewrap", null);

  @AfterEach
  void noneLeft() {
    if (specs != null) {
      ProcessLeaks.killAll(specs.marker);
      ProcessLeaks.assertNoneLeft(specs.marker);
    }
  }

  @Test
  void rlimits_areInForceInside_softAndHard() throws Exception {
    specs = new SpecBuilder(tmp);
    specs.limits = SMALL;
    SandboxSpec spec = specs.command("/bin/cat", "/proc/self/limits");
    SandboxedProcess p = bwrap.start(spec);

    assertThat(p.waitFor(Duration.ofSeconds(20))).contains(0);
    Map<String, String> seen = new LinkedHashMap<>();
    for (String line : Files.readAllLines(spec.stdoutFile())) {
      seen.put(line.substring(0, Math.min(26, line.length())).trim(),
          line.length() > 26 ? line.substring(26).trim().replaceAll(" +", " ") : "");
    }
    assertThat(seen.get("Max open files")).startsWith("64 64 ");
    assertThat(seen.get("Max file size")).startsWith("1048576 1048576 ");
    assertThat(seen.get("Max core file size")).startsWith("0 0 ");
    assertThat(p.limitsInForce().inForce())
        .containsEntry("nofile", "64").containsEntry("fsize", "1MiB").containsEntry("core", "0");
    // bwrap reports the exit before the wrapper has removed its cgroups.
    p.stop(Duration.ofSeconds(1));
    assertThat(Files.readAllLines(spec.controlDir().resolve("cgroups")))
        .allSatisfy(d -> assertThat(Path.of(d)).doesNotExist());
  }

  @Test
  void cgroups_pidsMemoryAndCpu_holdTheWholeSandbox_andAreRemovedAtTheEnd() throws Exception {
    LimitsInForce available = bwrap.limitsInForce(SMALL);
    assertThat(available.inForce()).as(available.summary()).containsKey("pids");
    specs = new SpecBuilder(tmp);
    specs.limits = SMALL;
    SandboxSpec spec = specs.shell("echo ready; exec sleep 1000");
    SandboxedProcess p = bwrap.start(spec);
    await().atMost(Duration.ofSeconds(10))
        .until(() -> Files.readString(spec.stdoutFile()).equals("ready\n"));

    List<Path> dirs = Files.readAllLines(spec.controlDir().resolve("cgroups")).stream()
        .map(Path::of).toList();
    Path pids = dirs.stream().filter(d -> d.toString().contains("/pids/")).findFirst().orElseThrow();
    assertThat(pids.resolve("pids.max")).hasContent("64");
    // Outer bwrap, inner bwrap (init) and sleep: every process the launch started (the
    // wrapper that waits for them stays outside).
    List<String> members = Files.readAllLines(pids.resolve("cgroup.procs"));
    assertThat(members).hasSize(3)
        .contains(Long.toString(p.processGroupId()));
    if (available.has("memory")) {
      Path memory = dirs.stream().filter(d -> d.toString().contains("/memory")).findFirst()
          .orElseThrow();
      assertThat(Files.readString(memory.resolve("memory.limit_in_bytes")).trim())
          .isEqualTo(Long.toString(256L << 20));
    }
    assertThat(available.inForce()).as(available.summary()).containsEntry("cpu", "500m");
    Path cpu = dirs.stream().filter(d -> d.toString().contains("/cpu/")).findFirst()
        .orElseThrow();
    // Half a core: 50 ms of every 100 ms period.
    assertThat(Files.readString(cpu.resolve(Files.exists(cpu.resolve("cpu.max")) ? "cpu.max"
        : "cpu.cfs_quota_us")).trim()).isIn("50000", "50000 100000");
    assertThat(Files.readAllLines(cpu.resolve("cgroup.procs")))
        .contains(Long.toString(p.processGroupId()));

    p.stop(Duration.ofSeconds(2));
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(dirs).allMatch(d -> !Files.exists(d)));
  }

  @Test
  void cgroup_removedByTheWrapper_afterANormalExit() throws Exception {
    specs = new SpecBuilder(tmp);
    specs.limits = new SandboxLimits(null, null, null, 64L, null);
    SandboxSpec spec = specs.command("/bin/true");
    bwrap.start(spec);
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(spec.controlDir().resolve("exit")));
    Path dir = Path.of(Files.readString(spec.controlDir().resolve("cgroups")).trim());
    assertThat(dir).doesNotExist();
  }

  @Test
  void fileSize_aWriteBeyondTheLimit_killsTheWriterWithSigxfsz() throws Exception {
    specs = new SpecBuilder(tmp);
    specs.limits = new SandboxLimits(null, 1L << 20, null, null, null);
    SandboxSpec spec = specs.shell("exec /usr/bin/head -c 2097152 /dev/zero > big");

    assertThat(bwrap.start(spec).waitFor(Duration.ofSeconds(20))).contains(128 + 25);
    assertThat(Files.size(tmp.resolve("big"))).isEqualTo(1L << 20);
  }

  @Test
  void none_enforcesNothing_andSaysSo() throws Exception {
    specs = new SpecBuilder(tmp);
    specs.limits = SMALL;
    SandboxedProcess p = Sandbox.create("none", null).start(specs.command("/bin/true"));
    assertThat(p.waitFor(Duration.ofSeconds(20))).contains(0);
    assertThat(p.limitsInForce().inForce()).isEmpty();
    assertThat(p.limitsInForce().summary()).startsWith("limits in force: none; not in force: "
        + "nofile (sandbox 'none' enforces no limits)");
    assertThat(SandboxedProcess.reattach(specs.jobDir.resolve(".outpost/run/1")).orElseThrow()
        .limitsInForce())
        .isEqualTo(p.limitsInForce());
  }

  @Test
  void summary_namesWhatIsAndIsNotInForce() {
    LimitsInForce r = new LimitsInForce(
        Map.of("nofile", "1024"), Map.of("memory", "no cgroup access"));
    assertThat(r.summary())
        .isEqualTo("limits in force: nofile=1024; not in force: memory (no cgroup access)");
    assertThat(LimitsInForce.parse(r.serialize())).isEqualTo(r);
  }

  @Test
  void check_reportsUnsetLimitsAsNotConfigured_andLeavesNoCgroup() {
    LimitsInForce r = bwrap.limitsInForce(new SandboxLimits(1024L, 1L << 30, 0L, null, null));
    assertThat(r.summary()).startsWith("limits in force: nofile=1024, fsize=1GiB, core=0; "
        + "not in force: pids (not configured), memory (not configured)");
  }

  @Test
  void limits_outOfRange_nameTheSettingAndWhatIsAllowed() {
    assertThatThrownBy(() -> new SandboxLimits(0L, null, null, null, null))
        .hasMessageContaining("openFiles").hasMessageContaining("0").hasMessageContaining("at least");
    assertThat(SandboxLimits.bytes(1536)).isEqualTo("1536");
    assertThat(SandboxLimits.bytes(3L << 30)).isEqualTo("3GiB");
  }
}
