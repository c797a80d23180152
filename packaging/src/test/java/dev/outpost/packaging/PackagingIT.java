package dev.outpost.packaging;

import static dev.outpost.packaging.Artifacts.REPO;
import static dev.outpost.packaging.Artifacts.SYSTEMD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The .deb and the tarball, unpacked with the real tools and run. */
class PackagingIT {
  private static final String UNIT = "outpost-agent.service";
  /** A maintainer script that starts or enables the unit (it must do neither). */
  private static final Pattern STARTS_UNIT = Pattern.compile(
      "(systemctl|deb-systemd-invoke|deb-systemd-helper)\\s+(--\\S+\\s+)*(start|enable|restart|reload-or-restart|try-restart)\\b"
          + "|invoke-rc\\.d\\s+\\S+\\s+start|--now");

  @TempDir Path tmp;

  @Test
  void deb_installsTheLayout_withItsModes() throws Exception {
    Path root = unpackDeb();

    assertMode(root.resolve("opt/outpost/bin/outpost-agent"), "rwxr-xr-x");
    assertThat(root.resolve("opt/outpost/bin/outpost-agent"))
        .hasSameBinaryContentAs(REPO.resolve("packaging/bin/outpost-agent"));
    assertMode(root.resolve("opt/outpost/lib/outpost-agent.jar"), "rw-r--r--");
    assertThat(root.resolve("opt/outpost/lib/outpost-agent.jar"))
        .hasSameBinaryContentAs(Artifacts.AGENT_JAR);
    assertThat(root.resolve("lib/systemd/system").resolve(UNIT))
        .hasSameBinaryContentAs(SYSTEMD.resolve(UNIT));
    assertThat(root.resolve("usr/lib/sysusers.d/outpost-agent.conf"))
        .hasSameBinaryContentAs(SYSTEMD.resolve("sysusers.d/outpost-agent.conf"));
    assertThat(root.resolve("usr/lib/tmpfiles.d/outpost-agent.conf"))
        .hasSameBinaryContentAs(SYSTEMD.resolve("tmpfiles.d/outpost-agent.conf"));
    assertThat(root.resolve("etc/outpost/agent.env"))
        .hasSameBinaryContentAs(REPO.resolve("packaging/conf/agent.env"));
    assertMode(root.resolve("etc/outpost/agent.env"), "rw-r-----");
    assertMode(root.resolve("etc/outpost"), "rwxr-x---");
    Path link = root.resolve("usr/bin/outpost-agent");
    assertThat(Files.isSymbolicLink(link)).as("%s is a symlink", link).isTrue();
    assertThat(Files.readSymbolicLink(link)).isEqualTo(Path.of("/opt/outpost/bin/outpost-agent"));
  }

  @Test
  void deb_control_namesItsDependencies_andAgentEnvIsAConffile() throws Exception {
    Path control = unpackDebControl();

    String fields = Files.readString(control.resolve("control"));
    assertThat(fields)
        .contains("Package: outpost-agent\n")
        .contains("Version: " + Artifacts.debianVersion() + "\n")
        .contains("Architecture: all\n")
        .contains("Maintainer: Outpost <dev@outpost.invalid>\n")
        .containsPattern("(?m)^Description: \\S")
        .containsPattern("(?m)^Depends: .*\\bbubblewrap\\b")
        .containsPattern("(?m)^Depends: .*\\butil-linux\\b")
        .containsPattern("(?m)^Depends: .*\\bprocps\\b")
        .containsPattern("(?m)^Depends: .*java17-runtime-headless")
        .doesNotContainPattern("(?m)^Recommends:");
    assertThat(Files.readAllLines(control.resolve("conffiles"))).containsExactly("/etc/outpost/agent.env");
  }

  @Test
  void deb_maintainerScripts_startAndEnableNothing() throws Exception {
    Path control = unpackDebControl();

    for (String script : List.of("postinst", "prerm", "postrm")) {
      Path file = control.resolve(script);
      assertThat(Files.isExecutable(file)).as("%s is executable", script).isTrue();
      String text = Files.readString(file);
      assertThat(text).as(script).startsWith("#!/bin/sh\n").containsPattern("(?m)^set -e$");
      assertThat(text).as(script).doesNotContainPattern(STARTS_UNIT);
      Proc.ok(List.of("sh", "-n", file.toString()));
    }
    String postinst = Files.readString(control.resolve("postinst"));
    assertThat(postinst)
        .contains("systemd-sysusers /usr/lib/sysusers.d/outpost-agent.conf")
        .contains("adduser --system --group --home /var/lib/outpost")
        .contains("systemd-tmpfiles --create /usr/lib/tmpfiles.d/outpost-agent.conf")
        .contains("chgrp outpost /etc/outpost /etc/outpost/agent.env")
        .containsPattern("if \\[ -d /run/systemd/system \\]; then\\s+systemctl --system daemon-reload");
    assertThat(Files.readString(control.resolve("postrm")))
        .doesNotContainPattern("rm -[a-z]*r[a-z]* .*/var/lib/outpost");
  }

  @Test
  void deb_launcherRunsTheJar_andPrintsTheVersion() throws Exception {
    Path root = unpackDeb();

    assertVersion(root.resolve("opt/outpost/bin/outpost-agent"));
  }

  @Test
  void deb_unitPassesSystemdAnalyzeVerify_inTheUnpackedRoot() throws Exception {
    Path analyze = Proc.onPath("systemd-analyze");
    assumeTrue(analyze != null, "systemd-analyze is not installed");
    Path root = unpackDeb();
    // verify needs the system's own units (sysinit.target, ...) beside ours, and every command
    // the unit runs inside the root: ExecReload= runs /bin/kill.
    copyTree(Path.of("/lib/systemd/system"), root.resolve("lib/systemd/system"));
    Files.createDirectories(root.resolve("bin"));
    Files.copy(Path.of("/bin/kill").toRealPath(), root.resolve("bin/kill"));

    Proc.Result r = Proc.run(List.of(analyze.toString(), "verify", "--root=" + root, UNIT));

    assertThat(r.exitCode()).as(r.describe()).isZero();
    assertThat(r.stdout() + r.stderr()).as(r.describe())
        .doesNotContain("No such file", "not executable", "not found");
  }

  @Test
  void tarball_holdsLauncherJarConfAndUnits_andRuns() throws Exception {
    Proc.ok(List.of("tar", "-xzf", Artifacts.tarball().toString(), "-C", tmp.toString()));
    try (Stream<Path> top = Files.list(tmp)) {
      assertThat(top).containsExactly(tmp.resolve("outpost-agent-" + Artifacts.VERSION));
    }
    Path dir = tmp.resolve("outpost-agent-" + Artifacts.VERSION);

    assertMode(dir.resolve("bin/outpost-agent"), "rwxr-xr-x");
    assertThat(dir.resolve("lib/outpost-agent.jar")).hasSameBinaryContentAs(Artifacts.AGENT_JAR);
    assertThat(dir.resolve("conf/agent.env"))
        .hasSameBinaryContentAs(REPO.resolve("packaging/conf/agent.env"));
    assertThat(dir.resolve("systemd").resolve(UNIT)).hasSameBinaryContentAs(SYSTEMD.resolve(UNIT));
    assertThat(dir.resolve("systemd/sysusers.d/outpost-agent.conf")).isRegularFile();
    assertThat(dir.resolve("systemd/tmpfiles.d/outpost-agent.conf")).isRegularFile();
    assertVersion(dir.resolve("bin/outpost-agent"));
  }

  @Test
  void agentEnv_documentsEverySetting_allCommentedOut() throws Exception {
    List<String> lines = Files.readAllLines(REPO.resolve("packaging/conf/agent.env"));

    assertThat(lines).as("no setting is active").allMatch(l -> l.isBlank() || l.startsWith("#"));
    for (String name : List.of("OUTPOST_CONTROL_PLANE", "OUTPOST_CA", "OUTPOST_ORG_KEY_FILE",
        "OUTPOST_CERT", "OUTPOST_KEY", "OUTPOST_STATE_DIR", "OUTPOST_WORK_DIR", "OUTPOST_MAX_JOBS",
        "OUTPOST_OPS_ADDRESS", "OUTPOST_LOG_FORMAT", "OUTPOST_LOG_LEVEL", "OUTPOST_DRAIN_TIMEOUT",
        "OUTPOST_CANCEL_GRACE", "OUTPOST_PROVIDER_MIRROR", "OUTPOST_PASS_ENV", "JAVA_OPTS")) {
      int at = lines.indexOf(lines.stream().filter(l -> l.startsWith("#" + name + "="))
          .findFirst().orElseThrow(() -> new AssertionError(name + " is not in agent.env")));
      // Explained by the comment above it (or above the group it belongs to: CERT and KEY).
      while (at > 0 && lines.get(at - 1).matches("#[A-Z_]+=.*")) {
        at--;
      }
      assertThat(at).as("a comment explains %s", name).isPositive();
      assertThat(lines.get(at - 1)).as("the line explaining %s", name).startsWith("# ");
    }
  }

  /** Runs LAUNCHER --version with this JVM's java and checks the line it prints. */
  private static void assertVersion(Path launcher) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("PATH", System.getenv("PATH"));
    env.put("JAVA_HOME", System.getProperty("java.home"));
    Proc.Result r = Proc.run(List.of(launcher.toString(), "--version"), env);

    assertThat(r.exitCode()).as(r.describe()).isZero();
    assertThat(r.stdout()).as(r.describe()).startsWith(Artifacts.versionLine());
  }

  private Path unpackDeb() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("root"));
    Proc.ok(List.of("dpkg-deb", "-x", Artifacts.deb().toString(), root.toString()));
    return root;
  }

  private Path unpackDebControl() throws Exception {
    Path control = tmp.resolve("DEBIAN");
    Proc.ok(List.of("dpkg-deb", "-e", Artifacts.deb().toString(), control.toString()));
    return control;
  }

  private static void assertMode(Path file, String mode) throws IOException {
    assertThat(PosixFilePermissions.toString(
        Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS))).as("mode of %s", file)
        .isEqualTo(mode);
  }

  /**
   * Copies what is under FROM into TO, keeping what TO has already (the package's own unit).
   * Links to absolute paths (masked units, to /dev/null) are left out: verify does not need them.
   */
  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path dest = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          Files.createDirectories(dest);
        } else if (Files.isSymbolicLink(p) && Files.readSymbolicLink(p).isAbsolute()) {
          continue;
        } else if (!Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
          Files.copy(p, dest, LinkOption.NOFOLLOW_LINKS, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }
}
