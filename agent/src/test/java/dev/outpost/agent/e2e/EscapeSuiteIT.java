package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The escape suite through the whole agent: every attempt is a {@code local-exec} of a real
 * Terraform job, run by two agents of one stub. "open" runs {@code --sandbox=none} without a disk
 * budget: the positive control, where every attempt must work, so a row cannot pass because the
 * attempt itself is broken. "boxed" runs the default bubblewrap sandbox with small limits, where
 * every attempt must fail. The agents keep their key and org key files under /etc, where an
 * operator would, and each runs a "victim" job throughout that the attempts aim at and that
 * must still succeed at the end. Evidence is judged on the host or in the stored log, never by
 * the attempt's own exit code; evidence strings are computed by the shell so Terraform's echo
 * of the command cannot fake them.
 */
class EscapeSuiteIT {
  private static final JobType APPLY =
      JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build();
  private static final Duration JOB = Duration.ofSeconds(120);
  private static final int BOMB = 1000;
  private static final int FILES = 1000;

  @TempDir
  Path tmp;

  private final String id = UUID.randomUUID().toString().substring(0, 8);
  private final Path base = Path.of("/var/tmp/outpost-escape-" + id);
  private final Path etc = Path.of("/etc/outpost-escape-" + id);
  private final List<Path> strays = new ArrayList<>();
  private StubProcess stub;
  private final Map<String, Side> sides = new LinkedHashMap<>();

  /** One agent with its org, files, and the victim job it runs throughout. */
  private record Side(String org, AgentProcess agent, Path workDir, Path key, Path orgKey,
      String victim) {}

  /** What one attempt did under one agent: evidence, or the log's last word on it. */
  private record Seen(String evidence, String detail) {}

  private interface Evidence {
    String seen(Side side, String log) throws Exception;
  }

  private record Attempt(String name, String command, Evidence evidence) {}

  @AfterEach
  void cleanUp() throws Exception {
    for (Side side : sides.values()) {
      side.agent().close();
    }
    if (stub != null) {
      stub.close();
    }
    for (Path p : strays) {
      Files.deleteIfExists(p);
    }
    deleteTree(etc);
    deleteTree(base);
    assertThat(Processes.withMarker("sleep 61")).as("fork bomb processes left").isEmpty();
  }

  @Test
  void everyAttemptWorksUnconfined_andIsBlockedByTheSandbox() throws Exception {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    start("open", "--sandbox", "none", "--job-disk-budget", "0");
    start("boxed", "--limit-processes", "256", "--limit-open-files", "256",
        "--limit-file-size", "1MiB", "--job-disk-budget", "20MiB");
    String victimTag = "victim-" + UUID.randomUUID();
    Map<String, String> victims = new LinkedHashMap<>();
    for (String org : sides.keySet()) {
      victims.put(org, stub.submitApply(config("victim-" + org, """
          resource "terraform_data" "victim" {
            provisioner "local-exec" {
              command = "touch %s; echo started; while [ ! -e release.gate ]; do sleep 0.05; done"
            }
          }
          """.formatted(victimTag)), org, "victim", Map.of(), Map.of()).getId());
    }
    for (Map.Entry<String, String> v : victims.entrySet()) {
      await("victim of " + v.getKey() + " running").atMost(JOB).until(() ->
          log(v.getValue()).contains("(local-exec): started"));
      Side s = sides.get(v.getKey());
      sides.put(v.getKey(), new Side(s.org(), s.agent(), s.workDir(), s.key(), s.orgKey(),
          v.getValue()));
    }

    Map<String, Map<String, Seen>> table = new LinkedHashMap<>();
    SoftAssertions soft = new SoftAssertions();
    List<Attempt> attempts = attempts(victimTag);

    // All file, process and signal attempts in one job per side; each ends in `true` so
    // that one blocked attempt does not keep the others from running.
    Map<String, String> jobLogs = new LinkedHashMap<>();
    for (Side side : sides.values()) {
      StringBuilder hcl = new StringBuilder();
      for (int i = 0; i < attempts.size(); i++) {
        hcl.append("""
            resource "terraform_data" "a%d" {
              provisioner "local-exec" {
                command = %s
              }
            }
            """.formatted(i, hclString(bind(attempts.get(i).command(), side) + "; true")));
      }
      Job job = stub.submitApply(config("attempts-" + side.org(), hcl.toString()), side.org(),
          "attempts", Map.of(), Map.of());
      Job done = stub.awaitFinished(job.getId(), JOB);
      soft.assertThat(done.getStatus()).as("attempts job under %s: %s", side.org(),
          done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
      jobLogs.put(side.org(), log(job.getId()));
    }
    for (int i = 0; i < attempts.size(); i++) {
      Attempt a = attempts.get(i);
      for (Side side : sides.values()) {
        String log = jobLogs.get(side.org());
        String evidence = a.evidence().seen(side, log);
        table.computeIfAbsent(a.name(), k -> new LinkedHashMap<>())
            .put(side.org(), new Seen(evidence, lastWord(log, "terraform_data.a" + i)));
      }
    }
    assertThat(jobLogs.get("open")).as("an unconfined agent says so in every job's log")
        .contains("this agent runs jobs UNCONFINED (--sandbox=none)");
    String boxedLog = jobLogs.get("boxed");
    assertThat(boxedLog).as("the fork bomb and disk fill need their limits in force")
        .contains("pids=256").contains("fsize=1MiB").contains("nofile=256")
        .contains("job disk budget 20 MiB");

    ownJob(table, soft, "fork bomb: " + BOMB + " processes (pids limit 256)", "bomb", "",
        "for i in $(seq " + BOMB + "); do sleep 61 >/dev/null 2>&1 & done; echo spawned-$((" + BOMB
            + " + 0))", "spawned-" + BOMB, "Cannot fork");
    ownJob(table, soft, "fill the disk: " + FILES + " files of 64 KiB (budget 20 MiB)", "fill",
        "", "mkdir fill; i=0; while [ $i -lt " + FILES + " ]; do head -c 65536 /dev/zero > fill/$i"
            + " || exit 1; i=$((i+1)); done; echo filled-$i", "filled-" + FILES,
        "disk budget of 20 MiB");
    ownJob(table, soft, "connect to the control plane's port (network=none)", "net", "none",
        "/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + stub.agentTarget().split(":")[1]
            + "' && echo connected-$((6 * 7)); true", "connected-42", null);

    // The other job and the agents were not touched.
    for (Side side : sides.values()) {
      Files.writeString(side.workDir().resolve(side.victim()).resolve("source/release.gate"), "");
    }
    for (Side side : sides.values()) {
      Job victim = stub.awaitFinished(side.victim(), JOB);
      soft.assertThat(victim.getStatus()).as("victim job under %s: %s", side.org(),
          victim.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
      soft.assertThat(side.agent().isAlive()).as("agent %s alive", side.org()).isTrue();
    }

    printTable(table);
    table.forEach((attempt, bySide) -> {
      soft.assertThat(bySide.get("open").evidence())
          .as("positive control: '%s' must work under --sandbox=none (%s)", attempt,
              bySide.get("open").detail()).isNotNull();
      soft.assertThat(bySide.get("boxed").evidence())
          .as("'%s' must be blocked by bubblewrap", attempt).isNull();
    });
    soft.assertAll();
  }

  private List<Attempt> attempts(String victimTag) throws Exception {
    List<Attempt> list = new ArrayList<>();
    list.add(new Attempt("read the agent's private key (/etc)", "sha256sum KEY",
        (side, log) -> hashIn(log, Files.readAllBytes(side.key()))));
    list.add(new Attempt("read the agent's org key file (/etc)", "sha256sum ORGKEY",
        (side, log) -> hashIn(log, Files.readAllBytes(side.orgKey()))));
    list.add(new Attempt("read the agent's environment (/proc/PID/environ)",
        "sha256sum /proc/AGENTPID/environ", (side, log) -> hashIn(log,
            Files.readAllBytes(Path.of("/proc/" + side.agent().pid() + "/environ")))));
    list.add(new Attempt("read another process's environment (the stub's)",
        "sha256sum /proc/" + stub.pid() + "/environ", (side, log) -> hashIn(log,
            Files.readAllBytes(Path.of("/proc/" + stub.pid() + "/environ")))));
    if (Files.isReadable(Path.of("/proc/1/environ"))
        && canRead(Path.of("/proc/1/environ"))) {
      list.add(new Attempt("read the host's /proc/1/environ", "sha256sum /proc/1/environ",
          (side, log) -> hashIn(log, Files.readAllBytes(Path.of("/proc/1/environ")))));
    } else {
      // Some container hosts refuse it even to root; then there is nothing to protect, and
      // the row cannot have a positive control. The table says so.
      System.out.println("escape suite: /proc/1/environ is refused to root on this host;"
          + " that row is left out");
    }
    list.add(new Attempt("list another running job's directory", "ls VICTIM/source",
        (side, log) -> log.contains(victimTag) ? "listed it" : null));
    list.add(new Attempt("write into another running job's directory",
        "echo x > VICTIM/source/pwned-" + id, hostFile(side -> side.workDir().resolve(
            side.victim()).resolve("source/pwned-" + id))));
    list.add(new Attempt("write into the shared provider cache (apply)",
        "touch WORK/.providers/pwned-" + id,
        hostFile(side -> side.workDir().resolve(".providers/pwned-" + id))));
    list.add(new Attempt("write to /usr", "touch /usr/pwned-" + id,
        hostFile(side -> Path.of("/usr/pwned-" + id))));
    list.add(new Attempt("write to /etc", "touch /etc/pwned-" + id,
        hostFile(side -> Path.of("/etc/pwned-" + id))));
    list.add(new Attempt("write to the work directory (the job dir's parent)",
        "touch WORK/pwned-" + id, hostFile(side -> side.workDir().resolve("pwned-" + id))));
    list.add(new Attempt("signal the agent process (kill -0)",
        "kill -0 AGENTPID && echo signalled-$((6 * 7))",
        (side, log) -> log.contains("signalled-42") ? "signalled" : null));
    list.add(new Attempt("write a 2 MiB file (file size limit 1 MiB)",
        "head -c 2097152 /dev/zero > big && echo wrote-$(wc -c < big)",
        (side, log) -> log.contains("wrote-2097152") ? "wrote 2 MiB" : null));
    list.add(new Attempt("open 300 files (open files limit 256)",
        "/bin/bash -c 'for i in $(seq 300); do exec {fd}</dev/null || exit 1; done;"
            + " echo opened-$i'", (side, log) -> log.contains("opened-300") ? "opened" : null));
    return list;
  }

  /** Runs one attempt as its own job on each side: it may end the job, as a limit should. */
  private void ownJob(Map<String, Map<String, Seen>> table, SoftAssertions soft, String name,
      String config, String network, String command, String evidence, String blockedBy)
      throws Exception {
    for (Side side : sides.values()) {
      Job job = stub.submit(config(config + "-" + side.org(), """
          resource "terraform_data" "attempt" {
            provisioner "local-exec" {
              command = %s
            }
          }
          """.formatted(hclString(command))), side.org(), config, APPLY, Map.of(), Map.of(),
          network);
      Job done = stub.awaitFinished(job.getId(), JOB);
      String log = log(job.getId());
      boolean worked = log.contains(evidence);
      String detail = done.getStatus() == JobStatus.JOB_STATUS_SUCCEEDED
          ? lastWord(log, "terraform_data.attempt")
          : "job " + done.getStatus().name().replace("JOB_STATUS_", "").toLowerCase(
              java.util.Locale.ROOT) + ": " + firstLine(done.getErrorMessage());
      table.computeIfAbsent(name, k -> new LinkedHashMap<>())
          .put(side.org(), new Seen(worked ? evidence : null, detail));
      if (side.org().equals("boxed") && blockedBy != null) {
        soft.assertThat(done.getStatus()).as("'%s' fails its job under bubblewrap", name)
            .isEqualTo(JobStatus.JOB_STATUS_FAILED);
        soft.assertThat(done.getErrorMessage() + log).as("'%s' says why", name)
            .contains(blockedBy);
      }
      if (side.org().equals("boxed") && blockedBy == null) {
        soft.assertThat(done.getStatus()).as("a job without network still applies")
            .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
      }
    }
  }

  private void start(String org, String... flags) throws IOException {
    Path dir = Files.createDirectories(etc.resolve(org));
    Path orgKey = Files.writeString(dir.resolve("org.key"), stub.createKey(org, Map.of()));
    TestPki.Client client = stub.pki.client(org, "agent-" + org);
    Path key = Files.copy(client.key(), dir.resolve("agent.key"));
    Path cert = Files.copy(client.cert(), dir.resolve("agent.crt"));
    for (Path p : List.of(orgKey, key)) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
    }
    Path work = base.resolve(org).resolve("work");
    List<String> extra = new ArrayList<>(List.of("--name", "agent-" + org, "--max-jobs", "2"));
    extra.addAll(List.of(flags));
    AgentProcess agent = AgentProcess.start(new AgentProcess.Options(stub.agentTarget(),
        stub.pki.ca(), cert, key, orgKey, base.resolve(org).resolve("state"), work, extra),
        tmp.resolve("agent-" + org + ".log"));
    sides.put(org, new Side(org, agent, work, key, orgKey, null));
  }

  private String bind(String command, Side side) {
    return command.replace("ORGKEY", side.orgKey().toString())
        .replace("KEY", side.key().toString())
        .replace("AGENTPID", Long.toString(side.agent().pid()))
        .replace("VICTIM", side.workDir().resolve(side.victim()).toString())
        .replace("WORK", side.workDir().toString());
  }

  private Evidence hostFile(java.util.function.Function<Side, Path> where) {
    return (side, log) -> {
      Path p = where.apply(side);
      strays.add(p);
      boolean there = Files.exists(p);
      Files.deleteIfExists(p);
      return there ? "created " + p.getFileName() + " on the host" : null;
    };
  }

  private static boolean canRead(Path p) {
    try {
      Files.readAllBytes(p);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static String hashIn(String log, byte[] content) throws Exception {
    String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    return log.contains(hash) ? "read it (sha256 matches)" : null;
  }

  private String log(String jobId) {
    return stub.logText(jobId);
  }

  /** The last output line of one resource's local-exec, as the table's "blocked" detail. */
  private static String lastWord(String log, String resource) {
    String last = "";
    for (String line : log.split("\n")) {
      if ((line.startsWith(resource + ":") || line.startsWith(resource + " "))
          && line.contains("(local-exec): ")) {
        last = line.substring(line.indexOf("(local-exec): ") + 14);
      }
    }
    return last;
  }

  private static String firstLine(String s) {
    String line = s.strip().split("\n")[0];
    return line.length() > 70 ? line.substring(0, 67) + "..." : line;
  }

  private Path config(String name, String hcl) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("configs").resolve(name));
    Files.writeString(dir.resolve("main.tf"), hcl);
    return dir;
  }

  private static String hclString(String value) {
    return "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"").replace("${", "$${") + "\"";
  }

  private void printTable(Map<String, Map<String, Seen>> table) {
    String format = "| %-52s | %-34s | %-60s |%n";
    StringBuilder b = new StringBuilder("\nEscape suite (real agent, real Terraform, real bwrap)\n");
    b.append(String.format(format, "attempt", "unconfined (--sandbox=none)",
        "sandboxed (bubblewrap)"));
    b.append(String.format(format, "-".repeat(52), "-".repeat(34), "-".repeat(60)));
    table.forEach((attempt, bySide) -> b.append(String.format(format, attempt,
        cell(bySide.get("open")), cell(bySide.get("boxed")))));
    System.out.print(b);
  }

  private String cell(Seen seen) {
    String text = (seen.evidence() != null ? "SUCCEEDED: " + seen.evidence()
        : "blocked: " + seen.detail()).replace(base.toString(), "<base>")
        .replace(etc.toString(), "<etc>").replace("/var/tmp/outpost-escape-" + id, "<base>");
    return text.length() > 60 ? text.substring(0, 57) + "..." : text;
  }

  static void deleteTree(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (var paths = Files.walk(dir)) {
        for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }
}
