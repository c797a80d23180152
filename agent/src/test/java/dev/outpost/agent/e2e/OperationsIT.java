package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.ops.NotifySocket;
import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Running the agent as an operator would: its ops endpoints scraped while a real job runs,
 * its systemd notifications received, its JSON log read back (and searched for secrets),
 * `check` against a live control plane, and `--once`. One stub serves the class; each test has its own agent and workspace.
 */
class OperationsIT {
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final String SECRET = "hunter2-sensitive-7781";
  private static final Pattern OPS = Pattern.compile("ops endpoints on http://127\\.0\\.0\\.1:(\\d+)");
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path tmp;

  private static StubProcess stub;
  private static Path gated;
  private static Path quick;
  private AgentProcess agent;
  private NotifySocket systemd;

  @BeforeAll
  static void startStub() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    gated = Files.createDirectories(tmp.resolve("gated"));
    Files.writeString(gated.resolve("main.tf"), """
        variable "db_password" {
          type      = string
          sensitive = true
        }
        resource "terraform_data" "wait" {
          input = var.db_password
          provisioner "local-exec" {
            command = "echo started; while [ ! -e release.gate ]; do sleep 0.05; done; echo released"
          }
        }
        """);
    quick = Files.createDirectories(tmp.resolve("quick"));
    Files.writeString(quick.resolve("main.tf"), """
        resource "terraform_data" "x" { input = "quick" }
        """);
  }

  @AfterEach
  void stopAgent() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (systemd != null) {
      systemd.close();
    }
  }

  @AfterAll
  static void stopStub() throws Exception {
    stub.close();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  @Test
  void metricsMoveDuringARealJob_readinessFollowsTheAgent_andTheJsonLogHoldsNoSecret()
      throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("metrics"));
    // The format comes from the config file (the tests' environment default is cleared).
    Path config = Files.writeString(dir.resolve("agent.yaml"), """
        log-format: json
        log-level: info
        drain-timeout: PT5M
        """);
    // systemd's side: the agent notifies a socket of the test's, with a 1 s watchdog.
    Path socket = dir.resolve("notify.sock");
    systemd = NotifySocket.bind(socket.toString());
    // A real drain (the tests' agents otherwise get --drain-timeout PT0S, which beats the file).
    agent = stub.startAgent(dir, "ops-agent", List.of("--config", config.toString(),
        "--drain-timeout", "PT5M"),
        Map.of("OUTPOST_LOG_FORMAT", "", "NOTIFY_SOCKET", socket.toString(),
            "WATCHDOG_USEC", "2000000"));
    int port = opsPort(agent);
    // READY=1 after the local preflight, not after connecting; then STATUS and WATCHDOG.
    assertThat(systemd.next(WAIT)).startsWith("READY=1\nSTATUS=");
    assertThat(systemd.nextStartingWith("STATUS=connected to " + stub.agentTarget(), WAIT))
        .isNotNull();
    assertThat(systemd.nextStartingWith("WATCHDOG=1", WAIT)).isEqualTo("WATCHDOG=1");
    assertThat(get(port, "/healthz").body()).isEqualTo("ok\n");
    await("ready").atMost(WAIT).until(() -> get(port, "/readyz").statusCode() == 200);
    // The level follows the config file while the agent runs.
    Files.writeString(config, Files.readString(config).replace("log-level: info",
        "log-level: debug"));
    await("level changed").atMost(WAIT).until(() -> agent.output()
        .contains("logging configuration read again (the config file changed): level debug"));

    Job job = stub.submitApply(gated, "acme", "ws-metrics", Map.of(),
        Map.of("db_password", SECRET));
    await("job started").atMost(WAIT).until(() -> stub.logText(job.getId())
        .contains("(local-exec): started"));
    assertThat(systemd.nextStartingWith("STATUS=connected", WAIT)).endsWith("; 1 job(s) running");
    String during = await("log lines counted").atMost(WAIT)
        .until(() -> get(port, "/metrics").body(), m -> value(m, "outpost_log_lines_sent_total") > 0);
    assertThat(value(during, "outpost_jobs_running")).isEqualTo(1);
    assertThat(value(during, "outpost_jobs_accepted_total{resumed=\"false\",type=\"apply\"}"))
        .isEqualTo(1);
    assertThat(value(during, "outpost_dispatch_wait_seconds_count")).isEqualTo(1);
    assertThat(value(during, "outpost_stage_duration_seconds_count{stage=\"init\"}"))
        .as(during).isEqualTo(1);
    assertThat(value(during, "outpost_certificate_expiry_seconds"))
        .isGreaterThan(Instant.now().getEpochSecond());
    assertThat(value(during, "outpost_ready")).isEqualTo(1);
    assertThat(during).contains("jvm_memory_used_bytes", "process_uptime_seconds",
        "process_files_open_files", "outpost_spool_size_bytes")
        .doesNotContain(job.getId()).doesNotContain(SECRET);

    release(dir, job);
    Job done = stub.awaitFinished(job.getId(), WAIT);
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    String after = await("job counted").atMost(WAIT).until(() -> get(port, "/metrics").body(),
        m -> value(m, "outpost_jobs_finished_total{outcome=\"succeeded\",type=\"apply\"}") == 1);
    assertThat(value(after, "outpost_jobs_running")).isZero();
    assertThat(value(after, "outpost_log_lines_sent_total"))
        .isGreaterThan(value(during, "outpost_log_lines_sent_total"));
    assertThat(value(after, "outpost_log_unacknowledged_bytes")).isZero();
    assertThat(value(after, "outpost_stage_duration_seconds_count{stage=\"apply\"}")).isEqualTo(1);
    assertThat(after).contains("outpost_job_duration_seconds_bucket{outcome=\"succeeded\"");

    // Draining: not ready any more (a running job keeps the agent alive to be asked).
    Job second = stub.submitApply(gated, "acme", "ws-metrics-2", Map.of(),
        Map.of("db_password", SECRET));
    await("second job started").atMost(WAIT).until(() -> stub.logText(second.getId())
        .contains("(local-exec): started"));
    agent.signal("TERM");
    assertThat(systemd.nextStartingWith("STOPPING=1", WAIT))
        .isEqualTo("STOPPING=1\nSTATUS=draining; 1 job(s) running");
    await("not ready while draining").atMost(WAIT).until(() -> get(port, "/readyz"),
        r -> r.statusCode() == 503 && r.body().contains("draining"));
    assertThat(get(port, "/healthz").statusCode()).as("alive while draining").isEqualTo(200);
    release(dir, second);
    assertThat(agent.awaitExit(WAIT)).contains(ExitCodes.OK);

    // The agent's own log: one JSON object per line, the job id where a line is about a job,
    // and never the sensitive value or the org key.
    String output = agent.output();
    List<JsonNode> lines = new ArrayList<>();
    for (String line : output.split("\n")) {
      if (!line.isBlank()) {
        lines.add(JSON.readTree(line));
      }
    }
    assertThat(lines).isNotEmpty().allSatisfy(l -> assertThat(l.has("timestamp")
        && l.has("level") && l.has("loggerName") && l.has("formattedMessage"))
        .as("fields of %s", l).isTrue());
    assertThat(lines).as("debug lines after the change")
        .anySatisfy(l -> assertThat(l.path("level").asText()).isEqualTo("DEBUG"));
    assertThat(lines).anySatisfy(l -> {
      assertThat(l.path("mdc").path("job").asText()).isEqualTo(job.getId());
      assertThat(l.path("formattedMessage").asText()).contains("result acknowledged");
    });
    assertThat(output).doesNotContain(SECRET)
        .doesNotContain(Files.readString(dir.resolve("ops-agent.org.key")).trim());
  }

  @Test
  void check_printsAPassingTable_andNamesARefusedKey() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("check"));
    Path keyFile = Files.writeString(dir.resolve("org.key"), stub.createKey("acme", Map.of()));
    TestPki.Client client = stub.pki.client("acme", "check-agent");
    List<String> args = List.of("check", "--control-plane", stub.agentTarget(),
        "--ca", stub.pki.ca().toString(), "--cert", client.cert().toString(),
        "--key", client.key().toString(), "--state-dir", dir.resolve("state").toString(),
        "--work-dir", dir.resolve("work").toString(), "--min-free-disk", "0");

    Run ok = runAgent(args, Map.of("OUTPOST_ORG_KEY_FILE", keyFile.toString()));
    assertThat(ok.exit()).as(ok.output()).isEqualTo(ExitCodes.OK);
    assertThat(ok.output()).containsPattern("configuration +pass")
        .containsPattern("terraform +pass +terraform 1\\.")
        .containsPattern("sandbox +pass +bubblewrap works")
        .containsPattern("state directory +pass .*rwx------")
        // The test PKI's certificates live an hour: close enough to their end to be flagged.
        .containsPattern("certificate +warn .*expires .*replace it soon")
        .containsPattern("control plane +pass .*org key and certificate accepted")
        .contains("all checks passed");

    Path wrong = Files.writeString(dir.resolve("wrong.key"), "opk_notakeythestubknows_0123456789");
    Run refused = runAgent(args, Map.of("OUTPOST_ORG_KEY_FILE", wrong.toString()));
    assertThat(refused.exit()).as(refused.output()).isEqualTo(ExitCodes.AUTH);
    assertThat(refused.output()).containsPattern("control plane +fail .*refused")
        .contains("FAILED (exit 3)").doesNotContain("opk_notakeythestubknows");
  }

  @Test
  void once_takesOneJob_deliversIt_andExitsZero() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("once"));
    stub.createKey("acme", Map.of()); // the org exists before its first jobs
    Job first = stub.submitApply(quick, "acme", "ws-once-1", Map.of(), Map.of());
    Job second = stub.submitApply(quick, "acme", "ws-once-2", Map.of(), Map.of());
    agent = stub.startAgent(dir, "once-agent", List.of(), Map.of("OUTPOST_ONCE", "true"));

    assertThat(agent.awaitExit(WAIT)).as(agent.output()).contains(ExitCodes.OK);
    Job done = stub.job(first.getId());
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(done.getLogEntries()).as("its whole log delivered").isEqualTo(done.getLastLogSeq());
    assertThat(stub.job(second.getId()).getStatus()).as("the second job is left for others")
        .isEqualTo(JobStatus.JOB_STATUS_QUEUED);
    assertThat(agent.output()).contains("--once: the one job is taken")
        .containsPattern("starting: .*, TLS in BoringSSL");
    // The stub serves the other tests too: the job left queued must not reach their agents.
    stub.admin().blocking(10).cancelJob(dev.outpost.proto.v1.CancelJobRequest.newBuilder()
        .setId(second.getId()).build());
  }

  private record Run(int exit, String output) {}

  private static Run runAgent(List<String> args, Map<String, String> env) throws Exception {
    List<String> command = new ArrayList<>(List.of(Jars.java(), "-jar", Jars.agent().toString()));
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(env);
    Process p = builder.start();
    String output = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), output);
  }

  private static int opsPort(AgentProcess agent) {
    return await("ops endpoints listening").atMost(WAIT).until(() -> {
      // JSON escapes the slashes of the address.
      Matcher m = OPS.matcher(agent.output().replace("\\/", "/"));
      return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }, p -> p > 0);
  }

  private static HttpResponse<String> get(int port, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A sample's value in the Prometheus text format; -1 when it is not there. */
  static double value(String metrics, String sample) {
    for (String line : metrics.split("\n")) {
      if (line.startsWith(sample + " ")) {
        return Double.parseDouble(line.substring(sample.length() + 1).trim().split(" ")[0]);
      }
    }
    return -1;
  }

  private static void release(Path dir, Job job) throws IOException {
    Files.writeString(dir.resolve("work").resolve(job.getId()).resolve("source/release.gate"), "");
  }
}
