package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.agent.sandbox.LimitsInForce;
import dev.outpost.agent.sandbox.ProcessLeaks;
import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.sandbox.SandboxLimits;
import dev.outpost.agent.sandbox.SandboxSpec;
import dev.outpost.agent.sandbox.SandboxedProcess;
import dev.outpost.agent.terraform.TerraformEnvironment;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The escape suite through real Terraform: every attempt is a local-exec provisioner of one
 * apply, run once under "none" (positive control) and once under "bubblewrap". An attempt
 * leaves evidence on the host (a file in the job dir with what it read, a file where it should
 * not be); each command ends in `true` so one blocked attempt does not stop the others and the
 * apply itself must succeed in both runs.
 */
class SandboxTerraformEscapeIT {
  private static final Duration RUN = Duration.ofSeconds(120);
  private static final SandboxLimits LIMITS = new SandboxLimits(256L, 1L << 20, 0L, 256L, null);
  private static final int BOMB = 1000;
  private static final String KEY = "-----BEGIN OUTPOST TEST KEY----- " + UUID.randomUUID();
  private static final String ORG_KEY = "OUTPOST_ORG_KEY=ok_" + UUID.randomUUID();

  private final String id = UUID.randomUUID().toString();
  private final Map<String, Attempt> attempts = new LinkedHashMap<>();
  private final List<Path> strays = new ArrayList<>();
  private final String marker = ProcessLeaks.newMarker();
  private Path base;
  private Path configDir;
  private ServerSocket listener;

  /** What the attempt achieved, judged on the host after the apply; null if nothing. */
  interface Evidence {
    String seen(Path jobDir) throws IOException;
  }

  record Attempt(String command, Evidence evidence) {}

  @BeforeEach
  void layOutAnAgent() throws IOException {
    base = Files.createDirectories(Path.of("/var/tmp/outpost-tf-escape-" + id));
    Path key = Files.writeString(
        Files.createDirectories(base.resolve("state")).resolve("agent.key"), KEY);
    Path other = Files.createDirectories(base.resolve("work/job-b"));
    Files.writeString(other.resolve("main.tf"), "# another job");
    configDir = Files.createDirectories(Path.of("/etc/outpost-tf-escape-" + id));
    Files.writeString(configDir.resolve("agent.env"), ORG_KEY + "\n");
    listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Path agentEnviron = Path.of("/proc/" + ProcessHandle.current().pid() + "/environ");
    byte[] environ = Files.readAllBytes(agentEnviron);

    attempts.put("read agent private key (state dir)",
        new Attempt("cat " + key + " > out-key", contains("out-key", KEY)));
    attempts.put("read config file under hidden /etc path",
        new Attempt("cat " + configDir.resolve("agent.env") + " > out-config",
            contains("out-config", ORG_KEY)));
    attempts.put("read agent's /proc/PID/environ",
        new Attempt("cat " + agentEnviron + " > out-environ", job -> {
          Path f = job.resolve("out-environ");
          return Files.exists(f) && Arrays.equals(Files.readAllBytes(f), environ)
              ? environ.length + " bytes" : null;
        }));
    attempts.put("signal the agent (kill -0 JVM pid)", new Attempt(
        "kill -0 " + ProcessHandle.current().pid() + " && echo yes > out-kill",
        contains("out-kill", "yes")));
    attempts.put("list another job's directory",
        new Attempt("ls " + other + " > out-ls", contains("out-ls", "main.tf")));
    attempts.put("write into another job's directory",
        new Attempt("echo x > " + other.resolve("pwned"), appears(other.resolve("pwned"))));
    Path usr = Path.of("/usr/outpost-tf-escape-" + id);
    attempts.put("write to /usr", new Attempt("echo x > " + usr, appears(usr)));
    Path etc = Path.of("/etc/outpost-tf-escape-" + id + ".conf");
    attempts.put("write to /etc", new Attempt("echo x > " + etc, appears(etc)));
    Path parent = base.resolve("work/pwned");
    attempts.put("write to the work dir (job dir's parent)",
        new Attempt("echo x > " + parent, appears(parent)));
    attempts.put("write 2 MiB file (fsize limit 1 MiB)",
        new Attempt("head -c 2097152 /dev/zero > big", job -> {
          Path big = job.resolve("big");
          long size = Files.exists(big) ? Files.size(big) : 0;
          return size > (1L << 20) ? size + " bytes" : null;
        }));
    attempts.put("open 500 files (nofile limit 256)", new Attempt(
        "bash -c 'for i in $(seq 500); do exec {fd}</dev/null || exit 1; done; echo ok > out-fds'",
        contains("out-fds", "ok")));
    attempts.put("connect to a host loopback port, network=false", new Attempt(
        "bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + listener.getLocalPort() + " && echo ok > out-tcp'",
        contains("out-tcp", "ok")));
    // Last (depends_on the rest): it exhausts pids.max, which Terraform itself also needs.
    attempts.put("fork bomb: " + BOMB + " x sleep (pids.max 256)", new Attempt(
        // A subshell, so the shell that dies at "Cannot fork" is not the provisioner's; its
        // EXIT trap takes the sleeps down with it, which Terraform needs to go on.
        "( trap 'kill $pids 2>/dev/null' EXIT; for i in $(seq " + BOMB + "); do"
            + " sleep 60 >/dev/null 2>&1 & pids=\"$pids $!\"; done;"
            + " echo $pids | wc -w > out-bomb )",
        contains("out-bomb", Integer.toString(BOMB))));
  }

  @AfterEach
  void cleanUp() throws IOException {
    ProcessLeaks.killAll(marker);
    ProcessLeaks.assertNoneLeft(marker);
    listener.close();
    for (Path p : strays) {
      Files.deleteIfExists(p);
    }
    deleteTree(configDir);
    deleteTree(base);
  }

  @Test
  void localExecEscapes_workUnconfined_andAreBlockedInBubblewrap() throws Exception {
    LimitsInForce limits = Sandbox.create("bubblewrap", null).limitsInForce(LIMITS);
    assertThat(limits.inForce()).as("the fork bomb runs only when pids.max is in force: %s",
        limits.summary()).containsKeys("pids", "fsize", "nofile");

    Map<String, String> unconfined = applyAll("none");
    for (Path p : strays) {
      Files.deleteIfExists(p); // the sandboxed run starts from the same host state
    }
    Map<String, String> sandboxed = applyAll("bubblewrap");

    StringBuilder table = new StringBuilder("\nSandbox escape suite, real terraform local-exec\n");
    String format = "%-48s | %-26s | %s%n";
    table.append(String.format(format, "attempt", "unconfined (none)", "sandboxed (bubblewrap)"));
    attempts.keySet().forEach(name -> table.append(String.format(format, name,
        show(unconfined.get(name)), show(sandboxed.get(name)))));
    System.out.println(table);
    assertThat(unconfined).as("positive controls").allSatisfy((k, v) -> assertThat(v).isNotNull());
    assertThat(sandboxed).as("sandboxed attempts").allSatisfy((k, v) -> assertThat(v).isNull());
  }

  private static String show(String seen) {
    return seen == null ? "blocked" : "SUCCEEDED (" + seen + ")";
  }

  /** init and apply of one config holding every attempt; returns attempt -> evidence. */
  private Map<String, String> applyAll(String sandboxName) throws Exception {
    Path job = Files.createDirectories(base.resolve("work/job-" + sandboxName));
    Files.writeString(job.resolve("main.tf"), config());
    Sandbox sandbox = Sandbox.create(sandboxName, null);
    Map<String, String> env = new HashMap<>(TerraformEnvironment.forJob(job).build());
    env.put(ProcessLeaks.MARKER_VARIABLE, marker);
    Path terraform = terraform();
    for (String[] stage : List.of(new String[] {"1", "init"},
        new String[] {"2", "apply", "-auto-approve"})) {
      List<String> argv = new ArrayList<>(List.of(terraform.toString(), stage[1], "-input=false",
          "-no-color"));
      argv.addAll(Arrays.asList(stage).subList(2, stage.length));
      Path run = job.resolve(".outpost/run");
      SandboxSpec spec = new SandboxSpec(job, job, argv, env,
          List.of(terraform.toRealPath().getParent()), List.of(), false,
          run.resolve(stage[0] + ".stdout"), run.resolve(stage[0] + ".stderr"),
          run.resolve(stage[0]), List.of(configDir, base.resolve("state")), LIMITS);
      SandboxedProcess process = sandbox.start(spec);
      try {
        assertThat(process.waitFor(RUN)).as("terraform %s under %s: %s", stage[1], sandboxName,
            Files.exists(spec.stderrFile()) ? Files.readString(spec.stderrFile()) : "")
            .contains(0);
        if (sandboxName.equals("bubblewrap")) {
          assertThat(process.limitsInForce().inForce()).containsKeys("nofile", "fsize", "pids");
        }
      } finally {
        process.stop(Duration.ofSeconds(2));
      }
    }
    ProcessLeaks.assertNoneLeft(marker);
    Map<String, String> seen = new LinkedHashMap<>();
    for (Map.Entry<String, Attempt> a : attempts.entrySet()) {
      seen.put(a.getKey(), a.getValue().evidence().seen(job));
    }
    return seen;
  }

  private String config() {
    StringBuilder hcl = new StringBuilder();
    List<String> names = new ArrayList<>();
    int i = 0;
    for (Attempt a : attempts.values()) {
      String name = "a" + i++;
      boolean last = i == attempts.size();
      hcl.append("resource \"terraform_data\" \"").append(name).append("\" {\n");
      if (last) {
        hcl.append("  depends_on = [").append(String.join(", ",
            names.stream().map(n -> "terraform_data." + n).toList())).append("]\n");
      }
      hcl.append("  provisioner \"local-exec\" {\n    command = <<-EOT\n      ")
          .append(a.command()).append("\n      true\n    EOT\n  }\n}\n");
      names.add(name);
    }
    String text = hcl.toString();
    assertThat(text).doesNotContain("${").doesNotContain("%{"); // would be HCL templates
    return text;
  }

  private static Evidence contains(String file, String text) {
    return job -> {
      Path f = job.resolve(file);
      return Files.exists(f) && Files.readString(f, StandardCharsets.UTF_8).contains(text)
          ? "read it" : null;
    };
  }

  private Evidence appears(Path target) {
    strays.add(target);
    return job -> Files.exists(target) ? "file on host" : null;
  }

  private static Path terraform() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin")
        .split(File.pathSeparator)) {
      Path candidate = Path.of(dir, "terraform");
      if (Files.isExecutable(candidate)) {
        return candidate.toAbsolutePath();
      }
    }
    throw new IllegalStateException("terraform is not on PATH");
  }

  private static void deleteTree(Path dir) throws IOException {
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
