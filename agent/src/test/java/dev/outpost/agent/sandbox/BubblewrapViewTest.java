package dev.outpost.agent.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a job can see of the host: real bwrap, proved from inside. */
class BubblewrapViewTest {
  @TempDir Path tmp;
  private SpecBuilder specs;
  private Path outsideTmp;
  private final Sandbox bwrap = Sandbox.create("bubblewrap", null);

  @AfterEach
  void cleanUp() throws IOException {
    if (specs != null) {
      ProcessLeaks.killAll(specs.marker);
      ProcessLeaks.assertNoneLeft(specs.marker);
    }
    if (outsideTmp != null) {
      SandboxEscapeTest.deleteTree(outsideTmp);
    }
  }

  private List<String> run(SandboxSpec spec) throws Exception {
    assertThat(bwrap.start(spec).waitFor(Duration.ofSeconds(20))).as("exit of %s", spec.command())
        .contains(0);
    return Files.readAllLines(spec.stdoutFile());
  }

  @Test
  void rootAndHome_areNotVisible() throws Exception {
    specs = new SpecBuilder(tmp);
    assertThat(Path.of("/root")).isDirectory(); // so its absence inside means something
    List<String> seen = run(specs.shell(
        "for d in /root /home; do [ -e $d ] && echo $d-visible || echo $d-absent; done"));
    assertThat(seen).containsExactly("/root-absent", "/home-absent");
  }

  /** Outside /tmp on purpose: /tmp inside is a fresh tmpfs and would hide them for free. */
  @Test
  void stateDirAndOtherJobs_outsideTheJobDir_areNotVisibleNorWritable() throws Exception {
    outsideTmp = Files.createDirectories(Path.of("/var/tmp/outpost-view-" + UUID.randomUUID()));
    Path key = Files.writeString(
        Files.createDirectories(outsideTmp.resolve("state")).resolve("agent.key"), "KEY");
    Path other = Files.createDirectories(outsideTmp.resolve("work/job-b"));
    Files.writeString(other.resolve("main.tf"), "# other job");
    specs = new SpecBuilder(Files.createDirectories(outsideTmp.resolve("work/job-a")));

    List<String> seen = run(specs.shell(String.join("\n",
        "cat " + key + " 2>/dev/null || echo key-unreadable",
        "ls " + other + " 2>/dev/null || echo other-job-absent",
        "touch " + other + "/pwned 2>/dev/null || echo other-job-unwritable",
        "touch " + outsideTmp.resolve("work/pwned") + " 2>/dev/null || echo parent-unwritable")));

    assertThat(seen).containsExactly(
        "key-unreadable", "other-job-absent", "other-job-unwritable", "parent-unwritable");
    assertThat(other.resolve("pwned")).doesNotExist();
    assertThat(outsideTmp.resolve("work/pwned")).doesNotExist();
  }

  @Test
  void hiddenPaths_underABoundDirectory_areEmpty_grantsAndTheJobDirBeneathStayVisible()
      throws Exception {
    // "sys" stands for /etc: bound read-only, with the agent's config dir and key file in it.
    Path sys = Files.createDirectories(tmp.resolve("sys"));
    Path config = Files.createDirectories(sys.resolve("outpost"));
    Files.writeString(config.resolve("agent.env"), "OUTPOST_ORG_KEY=secret");
    Path granted = Files.writeString(config.resolve("aws-credentials"), "granted");
    Path keyFile = Files.writeString(sys.resolve("agent.key"), "KEY");
    specs = new SpecBuilder(Files.createDirectories(config.resolve("work/job-1")));
    specs.readOnly = List.of(sys, granted);
    specs.hidden = List.of(config, keyFile, tmp.resolve("does-not-exist"));

    List<String> seen = run(specs.shell(String.join("\n",
        "cat " + config.resolve("agent.env") + " 2>/dev/null || echo config-hidden",
        "ls -A " + config,
        "echo \"key=[$(cat " + keyFile + ")]\"",
        "cat " + granted + "; echo",
        "touch " + config.resolve("new") + " 2>/dev/null || echo config-read-only",
        "echo job > job-file && echo job-writable")));

    assertThat(seen).containsExactly("config-hidden", "aws-credentials", "work", "key=[]",
        "granted", "config-read-only", "job-writable");
    assertThat(config.resolve("work/job-1/job-file")).hasContent("job");
  }

  @Test
  void arguments_hideAfterBinding_dropCapabilities_andLeaveTheSkeletonReadOnly()
      throws IOException {
    Path hiddenDir = Files.createDirectories(tmp.resolve("etc-like/outpost"));
    Path hiddenFile = Files.writeString(tmp.resolve("etc-like/agent.env"), "x");
    SandboxSpec spec = new SandboxSpec(tmp.resolve("job"), tmp.resolve("job"), List.of("/bin/true"),
        java.util.Map.of(), List.of(tmp.resolve("etc-like")), List.of(), false,
        tmp.resolve("o"), tmp.resolve("e"), tmp.resolve("ctl"),
        List.of(hiddenDir, hiddenFile, Path.of("/var/lib/not-bound")), SandboxLimits.NONE);
    String argv = String.join(" ", Bubblewrap.arguments(Path.of("/usr/bin/bwrap"), spec,
        List.of("/usr/bin/prlimit", "--nofile=64:64", "--")));

    assertThat(argv).contains("--cap-drop ALL")
        .contains("--tmpfs " + hiddenDir.toRealPath())
        .contains("--ro-bind /dev/null " + hiddenFile.toRealPath())
        .doesNotContain("/var/lib/not-bound")
        .endsWith("--remount-ro / --chdir " + tmp.resolve("job") + " --info-fd 3 --json-status-fd 4"
            + " -- /usr/bin/prlimit --nofile=64:64 -- /usr/bin/env -u PWD -- /bin/true");
    assertThat(argv.indexOf("--tmpfs " + hiddenDir.toRealPath()))
        .isGreaterThan(argv.indexOf("--ro-bind " + tmp.resolve("etc-like")));
  }

  @Test
  void capabilities_areAllDropped_evenWhenRunByRoot() throws Exception {
    specs = new SpecBuilder(tmp);
    List<String> seen = run(specs.command("/bin/grep", "^Cap[EPB]", "/proc/self/status"));
    assertThat(seen).hasSize(3).allMatch(l -> l.endsWith("0000000000000000"));
  }

  @Test
  void spec_hidingTheJobDirItself_isRefused() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SandboxSpec(tmp, tmp,
            List.of("/bin/true"), java.util.Map.of(), List.of(), List.of(), false,
            tmp.resolve("o"), tmp.resolve("e"), tmp.resolve("c"), List.of(tmp), SandboxLimits.NONE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("hiddenPaths");
  }
}
