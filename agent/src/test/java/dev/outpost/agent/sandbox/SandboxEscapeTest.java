package dev.outpost.agent.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Escape attempts, small shell commands standing in for a local-exec, each run twice with the
 * same spec: under "none" (the positive control: the attempt works, so a row cannot pass
 * because the attempt itself was broken) and under "bubblewrap" (it must fail). Success is
 * judged by evidence on the host (a file appeared, a secret was printed), not by exit codes.
 */
class SandboxEscapeTest {
  private static final SandboxLimits LIMITS = new SandboxLimits(64L, 1L << 20, 0L, 64L, null);
  private static final String KEY = "-----BEGIN OUTPOST TEST KEY----- " + UUID.randomUUID();
  private static final String ORG_KEY = "OUTPOST_ORG_KEY=ok_" + UUID.randomUUID();
  private static final int BOMB = 1000;
  private static final List<String[]> TABLE = Collections.synchronizedList(new ArrayList<>());

  private final String id = UUID.randomUUID().toString();
  private Path base;
  private Path stateDir;
  private Path configDir;
  private Path otherJob;
  private Path jobDir;
  private SpecBuilder specs;
  private final List<Path> strays = new ArrayList<>();

  /** What the attempt achieved as seen from the host, or null if nothing. */
  interface Evidence {
    String seen(SandboxSpec spec) throws Exception;
  }

  record Outcome(String seen, String detail) {
    boolean succeeded() {
      return seen != null;
    }
  }

  @BeforeEach
  void layOutAnAgent() throws IOException {
    // Outside /tmp: the sandbox's fresh /tmp would hide these for free.
    base = Files.createDirectories(Path.of("/var/tmp/outpost-escape-" + id));
    stateDir = Files.createDirectories(base.resolve("state"));
    Files.writeString(stateDir.resolve("agent.key"), KEY);
    otherJob = Files.createDirectories(base.resolve("work/job-b"));
    Files.writeString(otherJob.resolve("main.tf"), "# another job");
    jobDir = Files.createDirectories(base.resolve("work/job-a"));
    specs = new SpecBuilder(jobDir);
    configDir = Path.of("/etc/outpost-escape-" + id);
    try {
      Files.createDirectories(configDir);
    } catch (IOException e) { // not root: a read-only granted directory stands for /etc
      configDir = Files.createDirectories(base.resolve("etc/outpost"));
      specs.readOnly = List.of(base.resolve("etc"));
    }
    Files.writeString(configDir.resolve("agent.env"), ORG_KEY + "\n");
    specs.hidden = List.of(configDir, stateDir);
    specs.limits = LIMITS;
  }

  @AfterEach
  void cleanUp() throws IOException {
    ProcessLeaks.killAll(specs.marker);
    ProcessLeaks.assertNoneLeft(specs.marker);
    for (Path p : strays) {
      Files.deleteIfExists(p);
    }
    deleteTree(configDir);
    deleteTree(base);
  }

  @AfterAll
  static void printTable() {
    StringBuilder b = new StringBuilder("\nSandbox escape suite\n");
    String format = "%-44s | %-30s | %s%n";
    b.append(String.format(format, "attempt", "unconfined (none)", "sandboxed (bubblewrap)"));
    b.append("-".repeat(44)).append("-+-").append("-".repeat(30)).append("-+-")
        .append("-".repeat(50)).append('\n');
    synchronized (TABLE) {
      TABLE.stream().sorted(Comparator.comparing(r -> r[0]))
          .forEach(r -> b.append(String.format(format, r[0], r[1], r[2])));
    }
    System.out.println(b);
  }

  @Test
  void readTheAgentsPrivateKey_inTheStateDir() throws Exception {
    row("read agent private key (state dir)", "cat " + stateDir.resolve("agent.key"),
        stdoutContains(KEY));
  }

  @Test
  void readTheAgentsConfig_underAHiddenPathInEtc() throws Exception {
    row("read config file under hidden " + (configDir.startsWith("/etc") ? "/etc path" : "path"),
        "cat " + configDir.resolve("agent.env"), stdoutContains(ORG_KEY));
  }

  @Test
  void readTheAgentsEnvironment_throughProc() throws Exception {
    Path environ = Path.of("/proc/" + ProcessHandle.current().pid() + "/environ");
    byte[] host = Files.readAllBytes(environ);
    assertThat(host).isNotEmpty();
    row("read agent's /proc/PID/environ", "cat " + environ,
        spec -> Arrays.equals(Files.readAllBytes(spec.stdoutFile()), host)
            ? host.length + " bytes" : null);
  }

  @Test
  void readTheHostInitsEnvironment() throws Exception {
    byte[] host;
    try {
      host = Files.readAllBytes(Path.of("/proc/1/environ"));
    } catch (IOException e) {
      TABLE.add(new String[] {"read /proc/1/environ (host init)",
          "n/a: host refuses it to root", "(not run)"});
      Assumptions.abort("this host refuses /proc/1/environ even to root: " + e);
      return;
    }
    byte[] expected = host;
    row("read /proc/1/environ (host init)", "cat /proc/1/environ",
        spec -> expected.length > 0 && Arrays.equals(Files.readAllBytes(spec.stdoutFile()), expected)
            ? expected.length + " bytes" : null);
  }

  @Test
  void signalTheAgentProcess() throws Exception {
    row("signal the agent (kill -0 JVM pid)",
        "kill -0 " + ProcessHandle.current().pid() + " && echo signalled", stdoutContains("signalled"));
  }

  @Test
  void listAnotherJobsDirectory() throws Exception {
    row("list another job's directory", "ls " + otherJob, stdoutContains("main.tf"));
  }

  @Test
  void writeIntoAnotherJobsDirectory() throws Exception {
    row("write into another job's directory", "echo x > " + otherJob.resolve("pwned"),
        fileAppears(otherJob.resolve("pwned")));
  }

  @Test
  void writeToUsr() throws Exception {
    Path target = Path.of("/usr/outpost-escape-" + id);
    row("write to /usr", "echo x > " + target, fileAppears(target));
  }

  @Test
  void writeToEtc() throws Exception {
    Path target = Path.of("/etc/outpost-escape-" + id + ".conf");
    row("write to /etc", "echo x > " + target, fileAppears(target));
  }

  @Test
  void writeToTheWorkDirectorysParent() throws Exception {
    Path target = base.resolve("work/pwned");
    row("write to the work dir (job dir's parent)", "echo x > " + target, fileAppears(target));
  }

  @Test
  void writeOneFileBeyondTheFileSizeLimit() throws Exception {
    Path big = jobDir.resolve("big");
    strays.add(big);
    row("write 2 MiB file (fsize limit 1 MiB)", "/usr/bin/head -c 2097152 /dev/zero > big",
        spec -> {
          long size = Files.exists(big) ? Files.size(big) : 0;
          Files.deleteIfExists(big);
          return size > (1L << 20) ? size + " bytes written" : null;
        });
  }

  @Test
  void exceedTheOpenFilesLimit() throws Exception {
    row("open 200 files (nofile limit 64)",
        "exec /bin/bash -c 'for i in $(seq 200); do exec {fd}</dev/null || exit 1; done;"
            + " echo opened-200'", stdoutContains("opened-200"));
  }

  @Test
  void raiseTheOpenFilesLimitAgain() throws Exception {
    long hostHard = Files.readAllLines(Path.of("/proc/self/limits")).stream()
        .filter(l -> l.startsWith("Max open files"))
        .map(l -> l.substring(26).trim().split(" +")[1])
        .mapToLong(v -> v.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(v))
        .findFirst().orElseThrow();
    Assumptions.assumeTrue(hostHard >= 4096, "host hard limit for open files is " + hostHard);
    row("raise own nofile soft limit to 4096",
        "/usr/bin/prlimit --pid $$ --nofile=4096: && echo raised", stdoutContains("raised"));
  }

  @Test
  void boundedForkBomb_isStoppedByPidsMax() throws Exception {
    LimitsInForce available = Sandbox.create("bubblewrap", null).limitsInForce(LIMITS);
    if (!available.has("pids")) {
      fail("the process limit is not in force on this host, so the fork bomb is not run: "
          + available.summary());
    }
    row("fork bomb: " + BOMB + " x sleep (pids.max 64)",
        "for i in $(seq " + BOMB + "); do sleep 60 & done; echo spawned",
        spec -> {
          // The script ends once every child is forked, but a child shows as "sleep 60" only
          // once it has run exec: count until all are there or the count stops growing.
          long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
          long last = -1;
          long steadySince = System.nanoTime();
          while (true) {
            long running = ProcessLeaks.matching(specs.marker).stream()
                .filter(l -> l.contains("sleep 60")).count();
            long now = System.nanoTime();
            if (running >= BOMB) {
              return running + " running";
            }
            if (running != last) {
              last = running;
              steadySince = now;
            } else if (now - steadySince > Duration.ofMillis(500).toNanos() || now > deadline) {
              return null;
            }
            Thread.sleep(50);
          }
        });
  }

  @Test
  void openATcpSocketToALoopbackListener_withNetworkOff() throws Exception {
    specs.network = false;
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      row("connect to a host loopback port, network=false",
          "exec /bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + server.getLocalPort()
              + " && echo connected'", stdoutContains("connected"));
    }
  }

  private void row(String attempt, String script, Evidence evidence) throws Exception {
    Outcome unconfined = attempt("none", script, evidence);
    Outcome sandboxed = attempt("bubblewrap", script, evidence);
    TABLE.add(new String[] {attempt, unconfined.detail(), sandboxed.detail()});
    assertThat(unconfined.succeeded())
        .as("positive control: '%s' must work unconfined, got %s", attempt, unconfined.detail())
        .isTrue();
    assertThat(sandboxed.succeeded())
        .as("'%s' must fail in bubblewrap, got %s", attempt, sandboxed.detail()).isFalse();
  }

  private Outcome attempt(String sandbox, String script, Evidence evidence) throws Exception {
    SandboxSpec spec = specs.shell(script);
    SandboxedProcess process = Sandbox.create(sandbox, null).start(spec);
    Optional<Integer> code = process.waitFor(Duration.ofSeconds(60));
    String seen;
    try {
      seen = evidence.seen(spec); // before stop: the fork bomb's children are the evidence
    } finally {
      process.stop(Duration.ofSeconds(1));
      ProcessLeaks.assertNoneLeft(specs.marker);
      Path cgroups = spec.controlDir().resolve("cgroups");
      if (Files.exists(cgroups)) {
        assertThat(Files.readAllLines(cgroups)).as("cgroups of the launch").allSatisfy(d ->
            assertThat(Path.of(d)).doesNotExist());
      }
    }
    if (seen != null) {
      return new Outcome(seen, "SUCCEEDED (" + seen + ")");
    }
    String err = Files.exists(spec.stderrFile())
        ? Files.readString(spec.stderrFile(), StandardCharsets.UTF_8).strip() : "";
    String last = err.isEmpty() ? "" : err.substring(err.lastIndexOf('\n') + 1)
        .replace(base.toString(), "<base>").replace(configDir.toString(), "<config>");
    String detail = "blocked, exit " + code.map(String::valueOf).orElse("?")
        + (last.isEmpty() ? "" : ": " + last);
    return new Outcome(null, detail.length() > 90 ? detail.substring(0, 87) + "..." : detail);
  }

  private static Evidence stdoutContains(String text) {
    return spec -> Files.readString(spec.stdoutFile(), StandardCharsets.UTF_8).contains(text)
        ? "read it" : null;
  }

  private Evidence fileAppears(Path target) {
    strays.add(target);
    return spec -> {
      boolean there = Files.exists(target);
      Files.deleteIfExists(target); // so the sandboxed run starts from the same state
      return there ? "file created on host" : null;
    };
  }

  static void deleteTree(Path dir) throws IOException {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
