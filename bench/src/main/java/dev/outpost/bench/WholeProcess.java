package dev.outpost.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.CreateKeyRequest;
import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.proto.v1.GetJobRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.StreamLogsRequest;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.TemplateImport;
import dev.outpost.proto.v1.WorkspaceRef;
import dev.outpost.stub.pki.Pem;
import dev.outpost.stub.pki.PkiFiles;
import dev.outpost.stub.server.AdminClient;
import dev.outpost.stub.server.ControlPlane;
import dev.outpost.stub.server.SourceArchive;
import dev.outpost.stub.server.StubServer;
import dev.outpost.stub.store.JobRecord;
import dev.outpost.stub.store.MemoryStore;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Whole-process measurements against an embedded control plane and a real agent process (the
 * runnable jar, the launcher's default JVM flags, the default sandbox):
 *
 * <ul>
 *   <li>start to ready: from starting the agent's JVM to its {@code /readyz} answering 200
 *       (connected, certificate in hand), polled every 5 ms;
 *   <li>RSS idle and connected: the JVM's VmRSS from /proc, 3 s after ready;
 *   <li>dispatch latency: from the submit call returning to the job's first log entry, which
 *       the agent writes as it launches the first Terraform command (both on this machine's
 *       clock); each job is submitted to an idle, connected agent.
 * </ul>
 *
 * Writes the samples as JSON for {@link Report}.
 */
public final class WholeProcess {
  /**
   * The launcher's defaults (packaging/bin/outpost-agent): what a supervised agent runs with,
   * unless BENCH_JVM_FLAGS names others (to compare flags).
   */
  static final List<String> JVM_FLAGS = System.getenv().containsKey("BENCH_JVM_FLAGS")
      ? List.of(System.getenv("BENCH_JVM_FLAGS").trim().split("\\s+"))
      : List.of("-Xss512k", "-XX:+UseSerialGC", "-XX:MaxRAMPercentage=25",
          "-XX:+CrashOnOutOfMemoryError", "-XX:-CreateCoredumpOnCrash");

  private final Path agentJar;
  private final Path dir;
  private final HttpClient http = HttpClient.newHttpClient();

  private WholeProcess(Path agentJar, Path dir) {
    this.agentJar = agentJar;
    this.dir = dir;
  }

  /** Arguments: the agent jar, the output JSON, the number of starts, the number of jobs. */
  public static void main(String[] args) throws Exception {
    ObjectNode out = run(Path.of(args[0]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(Path.of(args[1]).toFile(), out);
  }

  public static ObjectNode run(Path agentJar, int starts, int jobs) throws Exception {
    Path dir = Files.createTempDirectory("outpost-bench-");
    try {
      return new WholeProcess(agentJar, dir).measure(starts, jobs);
    } finally {
      dev.outpost.agent.workspace.Trees.deleteRecursively(dir);
    }
  }

  private ObjectNode measure(int starts, int jobs) throws Exception {
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
        org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(ch.qos.logback.classic.Level.WARN);
    PkiFiles pki = new PkiFiles(dir.resolve("pki"));
    pki.init("Outpost bench CA", List.of("localhost", "127.0.0.1"));
    String token = "bench-admin-token-" + System.nanoTime();
    StubServer.Config config = StubServer.Config.of(new InetSocketAddress("127.0.0.1", 0),
        new InetSocketAddress("127.0.0.1", 0), pki, token, ControlPlane.Settings.defaults(),
        1L << 30);
    ObjectNode out = new ObjectMapper().createObjectNode();
    try (StubServer server = StubServer.start(config, new MemoryStore(), Clock.systemUTC());
        AdminClient admin = new AdminClient("127.0.0.1:" + server.adminAddress().getPort(),
            token)) {
      admin.blocking(10).createOrg(CreateOrgRequest.newBuilder().setName("bench").build());
      String key = admin.blocking(10).createKey(CreateKeyRequest.newBuilder().setOrg("bench")
          .setDescription("bench agent").build()).getSecret();
      Path keyFile = dir.resolve("org.key");
      Pem.writeAtomically(keyFile, key + "\n", true);
      pki.issueClient(ControlPlane.Settings.defaults().trustDomain(), "bench", "bench-agent",
          Duration.ofHours(2));
      String target = "localhost:" + server.agentAddress().getPort();

      var startMillis = out.putArray("startToReadyMillis");
      var rss = out.putArray("rssIdleKiB");
      for (int i = 0; i < starts; i++) {
        int port = freePort();
        long began = System.nanoTime();
        Process agent = startAgent(pki, keyFile, target, port, i);
        try {
          awaitReady(agent, port);
          startMillis.add((System.nanoTime() - began) / 1_000_000);
          if (i == starts - 1) {
            // The last agent stays up, idle, for the RSS reading and the dispatch run.
            Thread.sleep(3000);
            rss.add(rssKiB(agent.pid()));
            var dispatch = out.putArray("dispatchMillis");
            byte[] archive = SourceArchive.pack(config());
            long peak = 0;
            for (int j = 0; j < jobs; j++) {
              Job job = admin.submit(SubmitJobHeader.newBuilder()
                  .setWorkspace(WorkspaceRef.newBuilder().setOrg("bench").setName("ws-" + j))
                  .setType(JobType.newBuilder().setTemplateImport(
                      TemplateImport.getDefaultInstance())).build(), archive);
              Instant submitted = Instant.now();
              Job done = awaitEnd(admin, job.getId(), agent);
              peak = Math.max(peak, rssKiB(agent.pid()));
              if (done.getStatus() != JobStatus.JOB_STATUS_SUCCEEDED) {
                throw new IllegalStateException("bench job " + job.getId() + " ended "
                    + done.getStatus() + ": " + done.getErrorMessage());
              }
              dispatch.add(Duration.between(submitted, terraformStarted(admin, job.getId()))
                  .toNanos() / 1e6);
            }
            out.put("rssAfterJobsKiB", peak);
          }
        } finally {
          stop(agent);
        }
      }
    }
    return out;
  }

  /** The smallest configuration: no provider to download; init and plan are all it costs. */
  private Path config() throws IOException {
    Path source = Files.createDirectories(dir.resolve("source"));
    Files.writeString(source.resolve("main.tf"), "resource \"terraform_data\" \"x\" {\n"
        + "  input = \"bench\"\n}\n");
    return source;
  }

  private Process startAgent(PkiFiles pki, Path keyFile, String target, int port, int round)
      throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(List.of(java));
    command.addAll(JVM_FLAGS);
    command.addAll(List.of("-jar", agentJar.toString(), "run", "--control-plane", target,
        "--ca", pki.caCert().toString(), "--cert", pki.clientCert("bench-agent").toString(),
        "--key", pki.clientKey("bench-agent").toString(), "--org-key-file", keyFile.toString(),
        "--state-dir", dir.resolve("state-" + round).toString(),
        "--work-dir", dir.resolve("work-" + round).toString(), "--name", "bench-agent",
        "--ops-address", "127.0.0.1:" + port, "--log-format", "human",
        "--drain-timeout", "PT0S"));
    return new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("agent-" + round + ".log").toFile()).start();
  }

  private void awaitReady(Process agent, int port) throws Exception {
    HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
        + "/readyz")).timeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!agent.isAlive()) {
        throw new IllegalStateException("the agent exited with " + agent.exitValue());
      }
      try {
        if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException notListeningYet) {
        // the JVM is still starting
      }
      Thread.sleep(5);
    }
    throw new IllegalStateException("the agent was not ready within 60 s");
  }

  private static Job awaitEnd(AdminClient admin, String id, Process agent) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (System.nanoTime() < deadline) {
      Job job = admin.blocking(10).getJob(GetJobRequest.newBuilder().setId(id).build());
      if (JobRecord.isTerminal(job.getStatus())
          && job.getLogEntries() >= job.getLastLogSeq()) {
        return job;
      }
      if (!agent.isAlive()) {
        throw new IllegalStateException("the agent exited with " + agent.exitValue());
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("job " + id + " did not end within 2 minutes");
  }

  /**
   * When the job's first Terraform command started: the time of the job's first log entry of
   * the init stage, which the agent writes as that command is launched (the entries before it
   * are the agent's own setup messages).
   */
  private static Instant terraformStarted(AdminClient admin, String jobId) {
    var entries = admin.blocking(30).streamLogs(StreamLogsRequest.newBuilder().setJobId(jobId)
        .build());
    while (entries.hasNext()) {
      LogEntry entry = entries.next();
      if (entry.getStage() == dev.outpost.proto.v1.Stage.STAGE_INIT) {
        return Times.instant(entry.getTime());
      }
    }
    throw new IllegalStateException("job " + jobId + " has no init entry in its log");
  }

  static long rssKiB(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("no VmRSS for pid " + pid);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static void stop(Process agent) throws InterruptedException {
    agent.destroy();
    if (!agent.waitFor(30, TimeUnit.SECONDS)) {
      agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
