package dev.outpost.agent.e2e;

import static org.awaitility.Awaitility.await;

import dev.outpost.proto.v1.CreateKeyRequest;
import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.proto.v1.GetJobRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.StreamLogsRequest;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.Variable;
import dev.outpost.proto.v1.WorkspaceRef;
import dev.outpost.stub.server.AdminClient;
import dev.outpost.stub.server.SourceArchive;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/** The control-plane stub, started from its jar as a separate process, with a fresh PKI. */
final class StubProcess implements AutoCloseable {
  final Path dataDir;
  final TestPki pki;
  private final Process process;
  private final AdminClient admin;
  private final String agentPort;

  private StubProcess(Path dataDir, TestPki pki, Process process, AdminClient admin,
      String agentPort) {
    this.dataDir = dataDir;
    this.pki = pki;
    this.process = process;
    this.admin = admin;
    this.agentPort = agentPort;
  }

  static StubProcess start(Path dataDir) throws IOException {
    return start(dataDir, List.of("localhost", "127.0.0.1"), List.of());
  }

  /** With the server certificate naming {@code hosts}, and extra {@code serve} flags. */
  static StubProcess start(Path dataDir, List<String> hosts, List<String> serveFlags)
      throws IOException {
    TestPki pki = TestPki.create(dataDir.resolve("pki"), hosts);
    return launch(dataDir, pki, serveFlags);
  }

  /**
   * Kills this stub with SIGKILL (nothing is flushed or closed) and starts another on the same
   * data directory and PKI, on new ports.
   */
  StubProcess killAndRestart(List<String> serveFlags) throws IOException, InterruptedException {
    admin.close();
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    Files.deleteIfExists(dataDir.resolve("endpoints")); // left behind by the killed one
    return launch(dataDir, pki, serveFlags);
  }

  /** As {@link #killAndRestart}, listening on the same ports, so running agents reconnect. */
  StubProcess killAndRestartOnTheSamePorts() throws IOException, InterruptedException {
    Properties p = new Properties();
    p.load(new StringReader(Files.readString(dataDir.resolve("endpoints"))));
    return killAndRestart(List.of("--listen", "127.0.0.1:" + agentPort,
        "--admin-listen", p.getProperty("admin")));
  }

  /** Starts {@code serve} on the data directory as it is; the output goes to {@code log}. */
  static Process serve(Path dataDir, List<String> serveFlags, Path log) throws IOException {
    List<String> command = new ArrayList<>(List.of(Jars.java(), "-jar", Jars.stub().toString(),
        "serve", "--data-dir", dataDir.toString(), "--heartbeat-interval", "PT1S"));
    for (String listen : List.of("--listen", "--admin-listen")) {
      if (!serveFlags.contains(listen)) {
        command.addAll(List.of(listen, "127.0.0.1:0"));
      }
    }
    command.addAll(serveFlags);
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .start();
  }

  private static StubProcess launch(Path dataDir, TestPki pki, List<String> serveFlags)
      throws IOException {
    Process process = serve(dataDir, serveFlags, dataDir.resolve("stub.log"));
    Path endpoints = dataDir.resolve("endpoints");
    await("stub endpoints file").atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> Files.exists(endpoints) || !process.isAlive());
    if (!process.isAlive()) {
      throw new IllegalStateException("the stub exited: " + Files.readString(dataDir.resolve("stub.log")));
    }
    Properties p = new Properties();
    p.load(new StringReader(Files.readString(endpoints)));
    String token = Files.readString(dataDir.resolve("admin.token")).trim();
    AdminClient admin = new AdminClient(p.getProperty("admin"), token);
    String agent = p.getProperty("agent");
    return new StubProcess(dataDir, pki, process, admin, agent.substring(agent.lastIndexOf(':') + 1));
  }

  long pid() {
    return process.pid();
  }

  int agentPort() {
    return Integer.parseInt(agentPort);
  }

  /** The agent-facing address, by host name so that the certificate's DNS SAN is checked. */
  String agentTarget() {
    return "localhost:" + agentPort;
  }

  AdminClient admin() {
    return admin;
  }

  /** Creates the org (if needed) and a key; returns the key's secret. */
  String createKey(String org, Map<String, String> tags) {
    try {
      admin.blocking(10).createOrg(CreateOrgRequest.newBuilder().setName(org).build());
    } catch (io.grpc.StatusRuntimeException e) {
      if (e.getStatus().getCode() != io.grpc.Status.Code.ALREADY_EXISTS) {
        throw e;
      }
    }
    return admin.blocking(10).createKey(CreateKeyRequest.newBuilder().setOrg(org)
        .putAllTags(tags).build()).getSecret();
  }

  Job submitApply(Path dir, String org, String workspace, Map<String, String> vars,
      Map<String, String> sensitive) throws IOException {
    return submit(dir, org, workspace, dev.outpost.proto.v1.JobType.newBuilder()
        .setApply(dev.outpost.proto.v1.ApplyJob.getDefaultInstance()).build(), vars, sensitive);
  }

  Job submit(Path dir, String org, String workspace, dev.outpost.proto.v1.JobType type,
      Map<String, String> vars, Map<String, String> sensitive) throws IOException {
    return submit(dir, org, workspace, type, vars, sensitive, "");
  }

  /** @param network "full", "none", or "" for the default */
  Job submit(Path dir, String org, String workspace, dev.outpost.proto.v1.JobType type,
      Map<String, String> vars, Map<String, String> sensitive, String network)
      throws IOException {
    SubmitJobHeader.Builder h = SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg(org).setName(workspace))
        .setType(type).setNetwork(network);
    vars.forEach((k, v) -> h.addVariables(Variable.newBuilder().setName(k).setValue(v)));
    sensitive.forEach((k, v) -> h.addVariables(Variable.newBuilder().setName(k).setValue(v)
        .setSensitive(true)));
    return admin.submit(h.build(), SourceArchive.pack(dir));
  }

  List<dev.outpost.proto.v1.AuditEvent> audit() {
    return admin.blocking(10).listAuditEvents(
        dev.outpost.proto.v1.ListAuditEventsRequest.getDefaultInstance()).getEventsList();
  }

  /** A stored payload of a job, reassembled from its chunks. */
  byte[] payload(String jobId, dev.outpost.proto.v1.PayloadKind kind) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    admin.following().getPayload(dev.outpost.proto.v1.GetPayloadRequest.newBuilder()
        .setJobId(jobId).setKind(kind).build())
        .forEachRemaining(c -> out.writeBytes(c.getData().toByteArray()));
    return out.toByteArray();
  }

  /**
   * Creates org "acme" with a key, a client certificate for {@code name}, and starts an agent
   * with them (state and work directories under {@code dir}), plus {@code flags}.
   */
  AgentProcess startAgent(Path dir, String name, List<String> flags) throws IOException {
    return startAgent(dir, name, flags, Map.of());
  }

  AgentProcess startAgent(Path dir, String name, List<String> flags, Map<String, String> env)
      throws IOException {
    return startAgent(dir, name, agentTarget(), flags, env);
  }

  /** As above, with the agent dialing {@code target} (a proxy in front of this stub). */
  AgentProcess startAgent(Path dir, String name, String target, List<String> flags,
      Map<String, String> env) throws IOException {
    return startAgent(dir, name, target, flags, env, false);
  }

  /** As above; {@code supervised} runs it under the launcher, as systemd or a pod would. */
  AgentProcess startAgent(Path dir, String name, String target, List<String> flags,
      Map<String, String> env, boolean supervised) throws IOException {
    Path keyFile = Files.writeString(dir.resolve(name + ".org.key"), createKey("acme", Map.of()));
    TestPki.Client client = pki.client("acme", name);
    List<String> extra = new ArrayList<>(List.of("--name", name));
    extra.addAll(flags);
    AgentProcess.Options options = new AgentProcess.Options(target, pki.ca(), client.cert(),
        client.key(), keyFile, dir.resolve("state"), dir.resolve("work"), extra);
    Path output = dir.resolve(name + ".log");
    if (Files.exists(output)) {
      // a second agent process on the same directories (restarted by hand): keep the first log
      output = dir.resolve(name + "." + System.nanoTime() + ".log");
    }
    return supervised ? AgentProcess.startSupervised(options, output, env)
        : AgentProcess.start(options, output, env);
  }

  Job job(String id) {
    return admin.blocking(10).getJob(GetJobRequest.newBuilder().setId(id).build());
  }

  List<LogEntry> logs(String jobId) {
    List<LogEntry> entries = new ArrayList<>();
    admin.blocking(30).streamLogs(StreamLogsRequest.newBuilder().setJobId(jobId).build())
        .forEachRemaining(entries::add);
    return entries;
  }

  /** The job's stored log messages, one per line. */
  String logText(String jobId) {
    return String.join("\n", logs(jobId).stream().map(LogEntry::getMessage).toList());
  }

  /** Waits until the job has ended and its whole log is stored. */
  Job awaitFinished(String jobId, Duration timeout) {
    return await("job " + jobId + " finished").atMost(timeout).pollInterval(Duration.ofMillis(100))
        .until(() -> job(jobId), j -> isTerminal(j) && j.getLogEntries() >= j.getLastLogSeq());
  }

  static boolean isTerminal(Job j) {
    return switch (j.getStatus()) {
      case JOB_STATUS_SUCCEEDED, JOB_STATUS_FAILED, JOB_STATUS_CANCELLED,
          JOB_STATUS_INTERRUPTED -> true;
      default -> false;
    };
  }

  String log() throws IOException {
    return Files.readString(dataDir.resolve("stub.log"));
  }

  @Override
  public void close() throws InterruptedException {
    admin.close();
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
