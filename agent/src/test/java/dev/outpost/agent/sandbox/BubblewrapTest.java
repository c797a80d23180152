package dev.outpost.agent.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What bubblewrap confines, proved from inside with real bwrap, plus its argv. */
class BubblewrapTest {
  @TempDir Path tmp;
  private SpecBuilder specs;
  private final Sandbox bwrap = Sandbox.create("bubblewrap", null);

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

  @Test
  void confinement_writesOutsideTheJobDirNeverReachTheHost() throws Exception {
    Path hostTmpFile = Path.of("/tmp/" + specs().marker);
    SandboxSpec spec = specs().shell(String.join("\n",
        "touch /usr/outpost-probe 2>/dev/null && echo usr-writable || echo usr-readonly",
        "echo x > " + hostTmpFile + " && echo tmp-written",
        "echo 99 > " + tmp.resolve(".outpost/run/1/exit") + " 2>/dev/null || echo control-readonly",
        "true > " + tmp.resolve(".outpost/run/1.stdout") + " 2>/dev/null || echo log-readonly",
        "echo job > " + tmp.resolve("in-job-dir")));

    assertThat(bwrap.start(spec).waitFor(Duration.ofSeconds(20))).contains(0);

    assertThat(Files.readAllLines(spec.stdoutFile())).containsExactly(
        "usr-readonly", "tmp-written", "control-readonly", "log-readonly");
    assertThat(Path.of("/usr/outpost-probe")).doesNotExist();
    assertThat(hostTmpFile).doesNotExist(); // /tmp inside is a private tmpfs
    assertThat(tmp.resolve("in-job-dir")).hasContent("job");
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThat(spec.controlDir().resolve("exit")).hasContent("0"));
  }

  @Test
  void network_false_leavesOnlyLoopback() throws Exception {
    SandboxSpec spec = specs().command("/bin/cat", "/proc/net/dev");
    assertThat(bwrap.start(spec).waitFor(Duration.ofSeconds(20))).contains(0);
    assertThat(interfaces(Files.readAllLines(spec.stdoutFile()))).containsExactly("lo");
  }

  @Test
  void network_true_sharesTheHostInterfaces() throws Exception {
    specs().network = true;
    SandboxSpec spec = specs().command("/bin/cat", "/proc/net/dev");
    assertThat(bwrap.start(spec).waitFor(Duration.ofSeconds(20))).contains(0);
    assertThat(interfaces(Files.readAllLines(spec.stdoutFile())))
        .containsExactlyInAnyOrderElementsOf(interfaces(Files.readAllLines(Path.of("/proc/net/dev"))));
  }

  @Test
  void arguments_neverDieWithParent_andCarryNoEnvironmentValues() {
    SandboxSpec spec = new SandboxSpec(tmp, tmp, List.of("/usr/local/bin/terraform", "plan"),
        Map.of("AWS_SECRET_ACCESS_KEY", "s3cr3t"), List.of(Path.of("/opt/mirror")), false,
        tmp.resolve("o"), tmp.resolve("e"), tmp.resolve("ctl"));
    List<String> argv = Bubblewrap.arguments(Path.of("/usr/bin/bwrap"), spec);

    assertThat(argv).contains("--unshare-all", "--new-session", "--info-fd", "--json-status-fd")
        .doesNotContain("--die-with-parent", "--share-net", "--setenv")
        .noneMatch(a -> a.contains("s3cr3t")); // argv is world-readable in /proc
    assertThat(String.join(" ", argv)).contains("--ro-bind /opt/mirror /opt/mirror")
        .contains("--bind " + tmp + " " + tmp)
        .contains("--ro-bind " + tmp.resolve("ctl") + " " + tmp.resolve("ctl"))
        .endsWith("-- /usr/bin/env -u PWD -- /usr/local/bin/terraform plan");
  }

  @Test
  void readWritePaths_areWritableAtTheSamePath_readOnlyPathsInsideThemAreNot() throws Exception {
    Path outside = Files.createDirectories(tmp.resolve("outside-the-job/cache"));
    Path frozen = Files.createDirectories(outside.resolve("frozen"));
    SpecBuilder specs = new SpecBuilder(Files.createDirectories(tmp.resolve("job")));
    this.specs = specs;
    specs.readWrite = List.of(outside);
    specs.readOnly = List.of(frozen);
    SandboxSpec spec = specs.shell(String.join("\n",
        "echo rw > " + outside.resolve("written") + " && echo rw-ok",
        "touch " + frozen.resolve("x") + " 2>/dev/null && echo ro-writable || echo ro-refused"));

    assertThat(bwrap.start(spec).waitFor(Duration.ofSeconds(20))).contains(0);

    assertThat(Files.readAllLines(spec.stdoutFile())).containsExactly("rw-ok", "ro-refused");
    assertThat(outside.resolve("written")).hasContent("rw");
    assertThat(frozen.resolve("x")).doesNotExist();
    String argv = String.join(" ", Bubblewrap.arguments(Path.of("/usr/bin/bwrap"), spec));
    assertThat(argv.indexOf("--bind " + outside + " ")).isPositive()
        .isLessThan(argv.indexOf("--ro-bind " + frozen + " "));
  }

  @Test
  void probe_missingBinary_namesTheCause() {
    Sandbox missing = Sandbox.create("bubblewrap", tmp.resolve("no-such-bwrap"));
    assertThatThrownBy(() -> missing.probe(tmp))
        .isInstanceOf(SandboxUnavailableException.class)
        .hasMessageContaining("no-such-bwrap");
  }

  @Test
  void probe_bwrapThatFails_reportsItsStderr() throws Exception {
    Path fake = tmp.resolve("bwrap");
    Files.writeString(fake, "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n");
    fake.toFile().setExecutable(true);
    assertThatThrownBy(() -> Sandbox.create("bubblewrap", fake).probe(tmp))
        .isInstanceOf(SandboxUnavailableException.class)
        .hasMessageContaining("No permissions to create new namespace");
  }

  @Test
  void create_unknownName_listsAllowedValues() {
    assertThatThrownBy(() -> Sandbox.create("docker", null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("docker").hasMessageContaining("bubblewrap").hasMessageContaining("none");
  }

  private static List<String> interfaces(List<String> procNetDev) {
    return procNetDev.stream().skip(2).map(l -> l.substring(0, l.indexOf(':')).trim()).toList();
  }

  @Test
  void resolverTarget_isBoundOnlyWhenResolvConfLinksOutsideUsrAndEtc() throws Exception {
    Path run = Files.createDirectories(tmp.resolve("run/systemd/resolve"));
    Path stub = Files.writeString(run.resolve("stub-resolv.conf"), "nameserver 127.0.0.53\n");
    Path linked = Files.createSymbolicLink(tmp.resolve("resolv-linked.conf"), stub);
    Path plain = Files.writeString(tmp.resolve("resolv-plain.conf"), "nameserver 10.0.0.2\n");
    Path intoUsr = Files.createSymbolicLink(tmp.resolve("resolv-usr.conf"),
        Path.of("/usr/bin/env"));

    assertThat(Bubblewrap.resolverTarget(linked)).contains(stub.toRealPath());
    assertThat(Bubblewrap.resolverTarget(plain)).isEmpty();
    assertThat(Bubblewrap.resolverTarget(intoUsr)).isEmpty();
  }
}
