package dev.outpost.stub.cli;

import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.CreateKeyRequest;
import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.proto.v1.GetJobRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.Variable;
import dev.outpost.proto.v1.WorkspaceRef;
import dev.outpost.stub.pki.Pem;
import dev.outpost.stub.server.AdminClient;
import dev.outpost.stub.server.ControlPlane;
import dev.outpost.stub.server.SourceArchive;
import dev.outpost.stub.server.StubServer;
import dev.outpost.stub.store.MemoryStore;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The whole product in one command: an embedded control plane with a fresh PKI in a temporary
 * directory, an org and a key, an agent process, and one job of the bundled example whose log
 * is printed live, then its outputs (sensitive ones masked).
 */
@Command(name = "demo", description = "Run an embedded control plane and an agent, apply an "
    + "example configuration, print its live log and outputs.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--agent-jar", required = true, description = "The agent's runnable jar.")
  Path agentJar;

  @Option(names = "--example", defaultValue = "examples/hello",
      description = "Configuration directory to apply (default: ${DEFAULT-VALUE}).")
  Path example;

  @Option(names = "--sandbox", defaultValue = "bubblewrap",
      description = "The agent's sandbox: bubblewrap or none (default: ${DEFAULT-VALUE}).")
  String sandbox;

  @Option(names = "--keep", description = "Keep the temporary directory for inspection.")
  boolean keep;

  @Override
  public Integer call() throws Exception {
    if (!Files.isRegularFile(agentJar)) {
      throw new CliException(CliException.Kind.CONFIG, "--agent-jar " + agentJar
          + " does not exist; build it with ./mvnw -B -DskipTests package");
    }
    byte[] archive;
    try {
      archive = SourceArchive.pack(example);
    } catch (IllegalArgumentException e) {
      throw new CliException(CliException.Kind.CONFIG, e.getMessage());
    }
    // The embedded control plane's routine INFO lines would drown the job's log.
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
        org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(ch.qos.logback.classic.Level.WARN);
    Path dir = Files.createTempDirectory("outpost-demo-");
    DataDir data = new DataDir(dir.resolve("stub"));
    data.pki().init("Outpost demo CA", List.of("localhost", "127.0.0.1"));
    StubServer.Config config = StubServer.Config.of(new InetSocketAddress("127.0.0.1", 0),
        new InetSocketAddress("127.0.0.1", 0), data.pki(), data.adminToken(),
        ControlPlane.Settings.defaults(), 1L << 30);
    Process agent = null;
    try (StubServer server = StubServer.start(config, new MemoryStore(), Clock.systemUTC());
        AdminClient admin = new AdminClient(ServeCommand.hostPort(server.adminAddress()),
            data.adminToken())) {
      say("control plane listening on " + ServeCommand.hostPort(server.agentAddress())
          + " (data in " + dir + ")");
      admin.blocking(10).createOrg(CreateOrgRequest.newBuilder().setName("demo").build());
      String key = admin.blocking(10).createKey(CreateKeyRequest.newBuilder().setOrg("demo")
          .setDescription("demo agent").build()).getSecret();
      Path keyFile = dir.resolve("org.key");
      Pem.writeAtomically(keyFile, key + "\n", true);
      data.pki().issueClient(ControlPlane.Settings.defaults().trustDomain(), "demo", "demo-agent",
          Duration.ofHours(1));
      say("created org 'demo', an org key and a client certificate for agent 'demo-agent'");

      Path agentLog = dir.resolve("agent.log");
      agent = startAgent(dir, data, keyFile, server.agentAddress().getPort(), agentLog);
      say("started agent (pid " + agent.pid() + ", sandbox " + sandbox + ")");

      byte[] random = new byte[8];
      new SecureRandom().nextBytes(random);
      String secret = "tok_" + HexFormat.of().formatHex(random);
      Job job = admin.submit(SubmitJobHeader.newBuilder()
          .setWorkspace(WorkspaceRef.newBuilder().setOrg("demo").setName("hello"))
          .setType(JobCommand.Submit.type("apply"))
          .addVariables(Variable.newBuilder().setName("api_token").setValue(secret)
              .setSensitive(true))
          .build(), archive);
      say("submitted job " + job.getId() + " (apply of " + example + ")");
      say("---- live log ----");
      Process watched = agent;
      Thread follower = new Thread(() -> JobCommand.print(admin, job.getId(), true, false,
          System.out), "demo-log");
      follower.setDaemon(true);
      follower.start();
      Job done = awaitEnd(admin, job.getId(), watched, agentLog);
      follower.join(TimeUnit.SECONDS.toMillis(10));
      say("---- result ----");
      JobView.print(done, false, System.out);
      if (done.getStatus() != JobStatus.JOB_STATUS_SUCCEEDED) {
        throw new CliException(CliException.Kind.JOB_FAILED, "the demo job ended "
            + JobView.status(done.getStatus()) + "; agent log: " + agentLog);
      }
      return ExitCodes.OK;
    } finally {
      if (agent != null) {
        agent.destroy();
        if (!agent.waitFor(30, TimeUnit.SECONDS)) {
          agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
      if (!keep) {
        deleteTree(dir);
      }
    }
  }

  private Process startAgent(Path dir, DataDir data, Path keyFile, int port, Path log)
      throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(List.of(java, "-jar", agentJar.toString(), "run",
        "--control-plane", "localhost:" + port, "--ca", data.pki().caCert().toString(),
        "--cert", data.pki().clientCert("demo-agent").toString(),
        "--key", data.pki().clientKey("demo-agent").toString(),
        "--org-key-file", keyFile.toString(), "--state-dir", dir.resolve("state").toString(),
        "--work-dir", dir.resolve("work").toString(), "--name", "demo-agent",
        "--sandbox", sandbox, "--cancel-grace", "PT5S",
        // Beside a real agent on this host: a free port for its endpoints; a readable log file.
        "--ops-address", "127.0.0.1:0", "--log-format", "human"));
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
        .start();
  }

  /** Waits for the job to end; fails fast with the agent's own words if the agent dies. */
  private static Job awaitEnd(AdminClient admin, String id, Process agent, Path agentLog)
      throws InterruptedException, IOException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (System.nanoTime() < deadline) {
      Job job = admin.blocking(10).getJob(GetJobRequest.newBuilder().setId(id).build());
      if (JobView.terminal(job.getStatus()) && job.getLogEntries() >= job.getLastLogSeq()) {
        return job;
      }
      if (!agent.isAlive()) {
        String words = Files.readString(agentLog).lines()
            .filter(l -> l.startsWith("outpost-agent: ")).findFirst()
            .orElse("see " + agentLog);
        throw new CliException(CliException.Kind.JOB_FAILED, "the agent exited with code "
            + agent.exitValue() + ": " + words
            + (agent.exitValue() == ExitCodes.SANDBOX_UNAVAILABLE
                ? " (install bubblewrap, or run the demo with --sandbox none)" : ""));
      }
      Thread.sleep(100);
    }
    throw new CliException(CliException.Kind.JOB_FAILED, "job " + id + " did not end within 5 "
        + "minutes; agent log: " + agentLog);
  }

  private static void say(String line) {
    System.out.println("==> " + line);
    System.out.flush();
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
