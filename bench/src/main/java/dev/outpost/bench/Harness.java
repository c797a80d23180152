package dev.outpost.bench;

import dev.outpost.proto.Times;
import dev.outpost.proto.v1.CreateKeyRequest;
import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.proto.v1.GetJobRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.WorkspaceRef;
import dev.outpost.stub.pki.Pem;
import dev.outpost.stub.pki.PkiFiles;
import dev.outpost.stub.server.AdminClient;
import dev.outpost.stub.server.ControlPlane;
import dev.outpost.stub.server.StubServer;
import dev.outpost.stub.store.JobRecord;
import dev.outpost.stub.store.MemoryStore;
import dev.outpost.stub.store.Store;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * What every whole-process benchmark stands on: a temporary directory, an embedded control
 * plane (real gRPC and mutual TLS on loopback, an in-memory store), an org with a key and a
 * client certificate for the agent, and real agent processes started from the runnable jar.
 * The store is observed on its way in: {@link #onStored} sees each log entry as the control
 * plane stores it, which is what its acknowledgement to the agent follows.
 */
final class Harness implements AutoCloseable {
  static final String ORG = "bench";

  final Path dir;
  final PkiFiles pki;
  final StubServer server;
  final AdminClient admin;
  final Path keyFile;
  final String target;
  private final Path agentJar;
  private final HttpClient http = HttpClient.newHttpClient();
  private final MemoryStore store = new MemoryStore();
  private final Map<String, Consumer<LogEntry>> storedListeners = new ConcurrentHashMap<>();
  /** Completed when the store records the job's end: waiting costs the control plane nothing. */
  private final Map<String, java.util.concurrent.CompletableFuture<Void>> ended =
      new ConcurrentHashMap<>();

  private Harness(Path agentJar, Path dir) throws Exception {
    this.agentJar = agentJar;
    this.dir = dir;
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
        org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(ch.qos.logback.classic.Level.WARN);
    pki = new PkiFiles(dir.resolve("pki"));
    pki.init("Outpost bench CA", List.of("localhost", "127.0.0.1"));
    String token = "bench-admin-token-" + System.nanoTime();
    StubServer.Config config = StubServer.Config.of(new InetSocketAddress("127.0.0.1", 0),
        new InetSocketAddress("127.0.0.1", 0), pki, token, ControlPlane.Settings.defaults(),
        1L << 30);
    // The control plane's threads run at idle priority (see IdleThreads), the harness's own
    // (the timings, the bare scripts) at normal priority like the agent and Terraform.
    IdleThreads.check();
    server = StubServer.start(config, observed(store), Clock.systemUTC(),
        new IdleThreads("control-plane"));
    admin = new AdminClient("127.0.0.1:" + server.adminAddress().getPort(), token);
    admin.blocking(10).createOrg(CreateOrgRequest.newBuilder().setName(ORG).build());
    String key = admin.blocking(10).createKey(CreateKeyRequest.newBuilder().setOrg(ORG)
        .setDescription("bench agent").build()).getSecret();
    keyFile = dir.resolve("org.key");
    Pem.writeAtomically(keyFile, key + "\n", true);
    pki.issueClient(ControlPlane.Settings.defaults().trustDomain(), ORG, "bench-agent",
        Duration.ofHours(4));
    target = "localhost:" + server.agentAddress().getPort();
  }

  static Harness start(Path agentJar) throws Exception {
    return new Harness(agentJar, Files.createTempDirectory("outpost-bench-"));
  }

  /** Calls {@code listener} with each log entry of the job as the store takes it. */
  void onStored(String jobId, Consumer<LogEntry> listener) {
    storedListeners.put(jobId, listener);
  }

  /** The store, with every appendLogs call reported to the listeners after it returns. */
  private Store observed(Store store) {
    return (Store) Proxy.newProxyInstance(Store.class.getClassLoader(),
        new Class<?>[] {Store.class}, (proxy, method, args) -> {
          Object result;
          try {
            result = method.invoke(store, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
          if (method.getName().equals("updateJob") && result instanceof java.util.Optional<?> o
              && o.isPresent() && o.get() instanceof JobRecord job
              && JobRecord.isTerminal(job.view().getStatus())) {
            endOf(job.view().getId()).complete(null);
          }
          if (method.getName().equals("appendLogs")) {
            Consumer<LogEntry> listener = storedListeners.get((String) args[0]);
            if (listener != null) {
              @SuppressWarnings("unchecked")
              List<LogEntry> entries = (List<LogEntry>) args[1];
              entries.forEach(listener);
            }
          }
          return result;
        });
  }

  /**
   * Starts an agent through the launcher (packaging/bin/outpost-agent of the checkout the jar
   * was built in, agent/target/), with its JVM flags or {@link WholeProcess#JVM_FLAGS}, its own
   * state and work directories, the ops endpoint on {@code opsPort}, and {@code extra}
   * arguments. The launcher's class-data archive lives in this run's cache directory: the
   * first agent writes it at its clean exit, later ones map it.
   */
  Process startAgent(String name, int opsPort, List<String> extra, Map<String, String> env)
      throws IOException {
    Path launcher = agentJar.toAbsolutePath().getParent().getParent().getParent()
        .resolve("packaging/bin/outpost-agent");
    List<String> command = new ArrayList<>(List.of("bash", launcher.toString()));
    command.addAll(List.of("run", "--control-plane", target,
        "--ca", pki.caCert().toString(), "--cert", pki.clientCert("bench-agent").toString(),
        "--key", pki.clientKey("bench-agent").toString(), "--org-key-file", keyFile.toString(),
        "--state-dir", dir.resolve("state-" + name).toString(),
        "--work-dir", workDir(name).toString(), "--name", "bench-agent",
        "--ops-address", "127.0.0.1:" + opsPort, "--log-format", "human",
        "--drain-timeout", "PT0S"));
    command.addAll(extra);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("agent-" + name + ".log").toFile());
    builder.environment().put("OUTPOST_AGENT_JAR", agentJar.toAbsolutePath().toString());
    builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
    builder.environment().put("OUTPOST_CACHE_DIR", dir.resolve("cache").toString());
    if (WholeProcess.JVM_FLAGS != null) {
      builder.environment().put("JAVA_OPTS", WholeProcess.JVM_FLAGS.trim());
    }
    builder.environment().putAll(env);
    return builder.start();
  }

  /** The work directory of the agent started as {@code name}: its job directories. */
  Path workDir(String name) {
    return dir.resolve("work-" + name);
  }

  /** Polls the agent's /readyz every 5 ms until it answers 200. */
  void awaitReady(Process agent, int opsPort) throws Exception {
    HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + opsPort
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

  Job submit(String workspace, JobType type, byte[] archive) throws Exception {
    return admin.submit(SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg(ORG).setName(workspace))
        .setType(type).build(), archive);
  }

  private java.util.concurrent.CompletableFuture<Void> endOf(String jobId) {
    return ended.computeIfAbsent(jobId, k -> new java.util.concurrent.CompletableFuture<>());
  }

  /**
   * The job once it has ended and its whole log is stored; fails if it did not succeed. Waits
   * for the store to record the end rather than polling the control plane, whose work would
   * compete with the agent for the machine's cores.
   */
  Job awaitSucceeded(String id, Process agent, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    java.util.concurrent.CompletableFuture<Void> end = endOf(id);
    while (System.nanoTime() < deadline) {
      try {
        end.get(100, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException notYet) {
        if (!agent.isAlive()) {
          throw new IllegalStateException("the agent exited with " + agent.exitValue());
        }
        continue;
      }
      Job job = admin.blocking(10).getJob(GetJobRequest.newBuilder().setId(id).build());
      if (job.getLogEntries() >= job.getLastLogSeq()) {
        ended.remove(id);
        if (job.getStatus() != dev.outpost.proto.v1.JobStatus.JOB_STATUS_SUCCEEDED) {
          throw new IllegalStateException("bench job " + id + " ended " + job.getStatus()
              + ": " + job.getErrorMessage());
        }
        return job;
      }
      Thread.sleep(10); // the agent delivers its log before the result: not expected
    }
    throw new IllegalStateException("job " + id + " did not end within " + timeout);
  }

  /** Submission to stored result, both by the control plane's clock, in milliseconds. */
  static double submittedToFinishedMillis(Job job) {
    return Duration.between(Times.instant(job.getSubmittedAt()),
        Times.instant(job.getFinishedAt())).toNanos() / 1e6;
  }

  /**
   * The job's whole stored log, read from the control plane's store in this JVM: streaming
   * 200,000 entries through its admin API took some 10 s a job.
   */
  List<LogEntry> log(String jobId) {
    List<LogEntry> entries = new ArrayList<>();
    for (List<LogEntry> page = store.logs(jobId, 1, 10_000); !page.isEmpty();
        page = store.logs(jobId, page.get(page.size() - 1).getSeq() + 1, 10_000)) {
      entries.addAll(page);
    }
    return entries;
  }

  /** VmRSS of the agent's JVM: {@code agentPid} is the launcher (bash), the JVM its child. */
  static long rssKiB(long agentPid) throws IOException {
    long pid = ProcessHandle.of(agentPid).flatMap(p -> p.children()
        .filter(c -> c.info().command().map(cmd -> cmd.endsWith("/java")).orElse(false))
        .findFirst()).map(ProcessHandle::pid).orElse(agentPid);
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("no VmRSS for pid " + pid);
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  static void stop(Process agent) throws InterruptedException {
    agent.destroy();
    if (!agent.waitFor(30, TimeUnit.SECONDS)) {
      agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Override
  public void close() throws Exception {
    try {
      admin.close();
      server.close();
    } finally {
      dev.outpost.agent.workspace.Trees.deleteRecursively(dir);
    }
  }
}
