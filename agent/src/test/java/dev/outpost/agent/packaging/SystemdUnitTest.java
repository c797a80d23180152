package dev.outpost.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged systemd files, checked the only way these machines allow (no systemd as PID 1):
 * statically, with systemd-analyze against a root directory laid out as the package installs
 * it, next to the host's own units (without them verify cannot find sysinit.target).
 */
class SystemdUnitTest {
  private static final String UNIT = "outpost-agent.service";
  private static final Path REPO = Path.of(System.getProperty("outpost.repo.root", ".."));
  private static final Path SYSTEMD = REPO.resolve("systemd");

  /**
   * Measured 3.1 ("OK") with systemd 252. The exposures left are the ones bubblewrap, the JVM
   * and the agent's network need (see the unit's comments); a weaker unit scores higher.
   */
  private static final double MAX_EXPOSURE = 3.15;

  /** systemd before 254 does not know DelegateSubgroup= and says so; nothing else is allowed. */
  private static final int DELEGATE_SUBGROUP_SINCE = 254;

  private static Optional<Path> systemdAnalyze;

  @TempDir Path root;

  @BeforeAll
  static void findSystemdAnalyze() {
    systemdAnalyze = onPath("systemd-analyze");
  }

  @BeforeEach
  void installIntoRoot() throws IOException {
    copy(SYSTEMD.resolve(UNIT), root.resolve("lib/systemd/system").resolve(UNIT));
    copy(SYSTEMD.resolve("sysusers.d/outpost-agent.conf"),
        root.resolve("usr/lib/sysusers.d/outpost-agent.conf"));
    copy(SYSTEMD.resolve("tmpfiles.d/outpost-agent.conf"),
        root.resolve("usr/lib/tmpfiles.d/outpost-agent.conf"));
    Path launcher = root.resolve("opt/outpost/bin/outpost-agent");
    copy(REPO.resolve("packaging/bin/outpost-agent"), launcher);
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.createDirectories(root.resolve("opt/outpost/lib"));
    Files.createDirectories(root.resolve("etc/outpost"));
    Files.writeString(root.resolve("etc/outpost/agent.env"), "OUTPOST_CONTROL_PLANE=cp:443\n");
  }

  @Test
  void verify_acceptsTheUnit_withoutWarnings() throws Exception {
    Path analyze = requireSystemdAnalyze();
    copyHostUnits();
    // ExecReload= runs /bin/kill; verify looks for every command inside the root.
    copy(Path.of("/bin/kill").toRealPath(), root.resolve("bin/kill"));

    Result r = run(analyze.toString(), "verify", "--root=" + root, UNIT);

    List<String> complaints = new ArrayList<>(r.lines());
    if (systemdVersion(analyze) < DELEGATE_SUBGROUP_SINCE) {
      complaints.removeIf(l -> l.endsWith(UNIT + ":" + lineOf("DelegateSubgroup=")
          + ": Unknown key 'DelegateSubgroup' in section [Service], ignoring."));
    }
    assertThat(complaints).as("systemd-analyze verify output").isEmpty();
    assertThat(r.exitCode()).as("exit code of verify:%n%s", r.output()).isZero();
  }

  @Test
  void security_exposureStaysAtMostTheMeasuredScore() throws Exception {
    Path analyze = requireSystemdAnalyze();
    copyHostUnits();

    Result r = run(analyze.toString(), "security", "--offline=yes", "--root=" + root, UNIT);

    System.out.println(r.stdout());
    assertThat(r.exitCode()).as("exit code of security:%n%s", r.output()).isZero();
    Matcher m = Pattern.compile("Overall exposure level for " + Pattern.quote(UNIT)
        + ": (\\d+\\.\\d)").matcher(r.stdout());
    assertThat(m.find()).as("an overall exposure level in:%n%s", r.stdout()).isTrue();
    double score = Double.parseDouble(m.group(1));
    assertThat(score).as("exposure level (0 safest, 10 unsafe)").isLessThanOrEqualTo(MAX_EXPOSURE);
    // The hardening that bwrap allows is in force, not merely written down.
    for (String kept : List.of("NoNewPrivileges=", "ProtectSystem=", "ProtectHome=",
        "PrivateTmp=", "PrivateDevices=", "ProtectKernelModules=", "ProtectClock=",
        "ProtectHostname=", "ProtectProc=", "LockPersonality=", "RestrictRealtime=",
        "RestrictSUIDSGID=", "SystemCallArchitectures=", "CapabilityBoundingSet=~CAP_SYS_ADMIN",
        "RestrictAddressFamilies=~AF_PACKET", "SystemCallFilter=~@debug", "User=/DynamicUser=",
        "UMask=")) {
      assertThat(r.stdout().lines().filter(l -> l.contains(" " + kept)))
          .as(kept).isNotEmpty().allMatch(l -> l.startsWith("✓"));
    }
  }

  @Test
  void directives_matchTheAgentsLifecycle() throws IOException {
    Map<String, List<String>> service = section(SYSTEMD.resolve(UNIT), "Service");

    assertThat(service.get("Type")).containsExactly("notify");
    assertThat(service.get("NotifyAccess")).containsExactly("all");
    assertThat(service.get("ExecStart")).containsExactly("/opt/outpost/bin/outpost-agent run");
    assertThat(service.get("ExecReload")).containsExactly("/bin/kill -HUP $MAINPID");
    assertThat(service.get("EnvironmentFile")).containsExactly("/etc/outpost/agent.env");
    assertThat(service.get("User")).containsExactly("outpost");
    assertThat(service.get("Group")).containsExactly("outpost");
    assertThat(words(service, "StateDirectory")).containsExactlyInAnyOrder("outpost",
        "outpost-work");
    assertThat(service.get("StateDirectoryMode")).containsExactly("0700");
    // The launcher's class-data archive (CACHE_DIRECTORY), writable under ProtectSystem=strict.
    assertThat(service.get("CacheDirectory")).containsExactly("outpost");
    assertThat(service.get("KillMode")).containsExactly("mixed");
    assertThat(service.get("KillSignal")).containsExactly("SIGTERM");
    // Longer than the default drain (300 s) plus the cancel grace (60 s): the drain finishes
    // and the final states are delivered before systemd's SIGKILL.
    assertThat(seconds(service.get("TimeoutStopSec").get(0)))
        .isGreaterThan(Duration.ofSeconds(300 + 60));
    assertThat(seconds(service.get("WatchdogSec").get(0))).isPositive();
    assertThat(service.get("Restart")).containsExactly("on-failure");
    assertThat(words(service, "RestartPreventExitStatus")).contains("2", "3");
    assertThat(service.get("OOMPolicy")).containsExactly("continue");
    assertThat(words(service, "Delegate")).containsExactlyInAnyOrder("pids", "memory", "cpu");
    assertThat(service.get("DelegateSubgroup")).containsExactly("agent");
  }

  /** Each of these breaks bubblewrap or the JVM (the unit says why); none may creep in. */
  @Test
  void directives_neverBreakTheSandboxOrTheJvm() throws IOException {
    Map<String, List<String>> service = section(SYSTEMD.resolve(UNIT), "Service");

    for (String key : List.of("PrivateUsers", "RestrictNamespaces", "ProtectKernelTunables",
        "ProtectKernelLogs", "ProcSubset", "MemoryDenyWriteExecute", "PrivateNetwork",
        "DynamicUser")) {
      assertThat(service).as(key).doesNotContainKey(key);
    }
    assertThat(words(service, "SystemCallFilter")).contains("@mount")
        .noneMatch(w -> w.startsWith("~"));
    assertThat(words(service, "RestrictAddressFamilies"))
        .contains("AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK");
  }

  @Test
  void sysusersAndTmpfiles_createTheUserAndPrivateDirectories() throws Exception {
    Optional<Path> sysusers = onPath("systemd-sysusers");
    Optional<Path> tmpfiles = onPath("systemd-tmpfiles");
    assumeTrue(sysusers.isPresent() && tmpfiles.isPresent(),
        "systemd-sysusers and systemd-tmpfiles are not installed: not checked");
    assumeTrue("root".equals(System.getProperty("user.name")),
        "systemd-tmpfiles --root can set owners only when run as root: not checked");
    Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    Files.writeString(root.resolve("etc/group"), "root:x:0:\n");

    Result users = run(sysusers.get().toString(), "--root=" + root);
    assertThat(users.exitCode()).as(users.output()).isZero();
    Result dirs = run(tmpfiles.get().toString(), "--root=" + root, "--create");
    assertThat(dirs.exitCode()).as(dirs.output()).isZero();

    String passwd = Files.readString(root.resolve("etc/passwd"));
    Matcher user = Pattern.compile("(?m)^outpost:x:(\\d+):(\\d+):[^:]*:/var/lib/outpost:"
        + "/usr/sbin/nologin$").matcher(passwd);
    assertThat(user.find()).as(passwd).isTrue();
    int uid = Integer.parseInt(user.group(1));
    int gid = Integer.parseInt(user.group(2));
    assertThat(uid).as("a system user").isBetween(1, 999);
    assertOwned(root.resolve("etc/outpost"), "rwxr-x---", 0, gid);
    assertOwned(root.resolve("var/lib/outpost"), "rwx------", uid, gid);
    assertOwned(root.resolve("var/lib/outpost-work"), "rwx------", uid, gid);
  }

  private static void assertOwned(Path dir, String mode, int uid, int gid) throws IOException {
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)))
        .as(dir.toString()).isEqualTo(mode);
    assertThat(Files.getAttribute(dir, "unix:uid")).as(dir + " owner").isEqualTo(uid);
    assertThat(Files.getAttribute(dir, "unix:gid")).as(dir + " group").isEqualTo(gid);
  }

  private static Path requireSystemdAnalyze() {
    assumeTrue(systemdAnalyze.isPresent(),
        "systemd-analyze is not installed (apt-get install systemd): the unit is not checked");
    return systemdAnalyze.get();
  }

  /** verify and security resolve the unit's dependencies (sysinit.target, ...) in the root. */
  private void copyHostUnits() throws IOException {
    Path hostUnits = Path.of("/lib/systemd/system");
    Path target = root.resolve("lib/systemd/system");
    try (Stream<Path> files = Files.walk(hostUnits)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path dest = target.resolve(hostUnits.relativize(p).toString());
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          Files.createDirectories(dest);
        } else if (!Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
          Files.copy(p, dest, LinkOption.NOFOLLOW_LINKS, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  private static int systemdVersion(Path analyze) throws Exception {
    Result r = run(analyze.toString(), "--version");
    Matcher m = Pattern.compile("^systemd (\\d+)").matcher(r.stdout());
    assertThat(m.find()).as(r.output()).isTrue();
    return Integer.parseInt(m.group(1));
  }

  private static int lineOf(String prefix) {
    try {
      List<String> lines = Files.readAllLines(SYSTEMD.resolve(UNIT));
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).startsWith(prefix)) {
          return i + 1;
        }
      }
      return -1;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** key -> values in order; comments and blank lines skipped. No continuation lines used. */
  private static Map<String, List<String>> section(Path unit, String name) throws IOException {
    Map<String, List<String>> out = new LinkedHashMap<>();
    String current = "";
    for (String raw : Files.readAllLines(unit)) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
        continue;
      }
      assertThat(line).as("no continuation lines").doesNotEndWith("\\");
      if (line.startsWith("[")) {
        current = line.substring(1, line.length() - 1);
      } else if (current.equals(name)) {
        int eq = line.indexOf('=');
        out.computeIfAbsent(line.substring(0, eq).strip(), k -> new ArrayList<>())
            .add(line.substring(eq + 1).strip());
      }
    }
    return out;
  }

  private static List<String> words(Map<String, List<String>> section, String key) {
    return section.getOrDefault(key, List.of()).stream()
        .flatMap(v -> Arrays.stream(v.split("\\s+")))
        .filter(w -> !w.isEmpty())
        .toList();
  }

  /** systemd time spans as used here: "420", "420s", "7min", "1min 30s". */
  private static Duration seconds(String span) {
    Duration total = Duration.ZERO;
    Matcher m = Pattern.compile("(\\d+)\\s*(min|s|)").matcher(span);
    while (m.find()) {
      long n = Long.parseLong(m.group(1));
      total = total.plus(m.group(2).equals("min") ? Duration.ofMinutes(n) : Duration.ofSeconds(n));
    }
    return total;
  }

  private static Optional<Path> onPath(String name) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin")
        .split(File.pathSeparator)) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, name);
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  private static void copy(Path from, Path to) throws IOException {
    Files.createDirectories(to.getParent());
    Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
  }

  private record Result(int exitCode, String stdout, String stderr) {
    String output() {
      return stdout + stderr;
    }

    /** Every line systemd-analyze wrote to stderr: warnings and errors. */
    List<String> lines() {
      return stderr.lines().filter(l -> !l.isBlank()).toList();
    }
  }

  private static Result run(String... command) throws Exception {
    Path out = Files.createTempFile("systemd-analyze", ".out");
    Path err = Files.createTempFile("systemd-analyze", ".err");
    try {
      Process p = new ProcessBuilder(command)
          .redirectOutput(out.toFile())
          .redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .start();
      if (!p.waitFor(2, TimeUnit.MINUTES)) {
        p.destroyForcibly().waitFor();
        throw new AssertionError(String.join(" ", command) + " did not finish within 2 min");
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
