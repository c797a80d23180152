package dev.outpost.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.proto.Payloads;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.CreateKeyRequest;
import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.SubmitJobRequest;
import dev.outpost.proto.v1.TemplateImport;
import dev.outpost.proto.v1.WorkspaceRef;
import dev.outpost.stub.pki.CertificateAuthority;
import dev.outpost.stub.pki.PkiFiles;
import dev.outpost.stub.server.AdminClient;
import dev.outpost.stub.server.ControlPlane;
import dev.outpost.stub.server.SourceArchive;
import io.grpc.netty.GrpcSslContexts;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.grpc.stub.StreamObserver;
import io.netty.handler.ssl.SslContext;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Control-plane scale: one stub process with many connected agents, dispatching trivial jobs.
 *
 * <ul>
 *   <li>The stub runs as its own process ({@code serve --store database}, its default, unless
 *       {@code --store memory}), so its memory is its own: VmRSS idle with every agent connected,
 *       VmRSS after the jobs and the peak (VmHWM), heap used after a full GC at both points
 *       (jcmd), and its CPU time for the connections and per job.
 *   <li>The agents are simulated in this process: each a distinct agent with its own client
 *       certificate (EC, signed by the stub's CA), its own TLS 1.3 connection and Connect session
 *       (Hello with one slot, the real agent's keepalive), sharing one event loop and executor.
 *       On an assignment an agent downloads the source archive, completes the job as succeeded
 *       and reports its slot free, as the real agent does once its job ends.
 *   <li>Jobs: template imports with a tiny archive, one workspace each (so no job waits for
 *       another's workspace), submitted open-loop at a fixed rate ({@code --rate}, default 20/s:
 *       a thousand agents whose jobs took 50 s each; a slow answer does not delay the next
 *       submission, so queueing shows in the latency), or one at a time with {@code --rate 0}
 *       (the next job after the previous one completed). {@code --warmup} jobs (default 200) go
 *       first, at the same rate, and are reported apart: a control plane serving a thousand
 *       agents has been running, and the first jobs after its JVM started measure the JIT.
 *   <li>Dispatch latency: from the moment the stub queued the job (the assignment's
 *       submitted_at, the stub's clock) to the agent reading the assignment off its stream (this
 *       machine's clock, the same one). Not from the submit call returning: the stub dispatches
 *       before it answers the submission, so the assignment usually arrives first. Also
 *       recorded: from the start of the submit call (upload included) to the assignment, and
 *       the stub's own queued-to-leased time (submitted_at to leased_at).
 * </ul>
 *
 * <p>Arguments: output JSON, number of agents, number of jobs, then optionally
 * {@code --stub-jar PATH} (else the stub runs from this class path), {@code --store
 * database|memory}, {@code --rate JOBS_PER_SECOND}, {@code --warmup JOBS}, {@code --settle
 * DURATION} (the pause before each memory reading, default PT3S). BENCH_STUB_JVM_FLAGS adds JVM
 * flags to the stub (none by default, as {@code ./outpost stub} runs it).
 */
public final class ControlPlaneScale {
  private static final String ORG = "scale";

  /** How one run is set up. */
  record Options(int agents, int jobs, Path stubJar, String store, double rate,
      Duration settle, int warmup) {
    Options {
      if (agents < 1 || jobs < 0 || warmup < 0) {
        throw new IllegalArgumentException("agents must be at least 1, jobs and warm-up jobs at"
            + " least 0, not " + agents + ", " + jobs + " and " + warmup);
      }
      if (!List.of("database", "memory").contains(store)) {
        throw new IllegalArgumentException("--store " + store + ": use database or memory");
      }
      if (rate < 0) {
        throw new IllegalArgumentException("--rate " + rate + ": use 0 (one at a time) or more");
      }
      if (settle.isNegative()) {
        throw new IllegalArgumentException("--settle " + settle + ": must not be negative");
      }
    }

    static Options parse(String[] args) {
      Path jar = null;
      String store = "database";
      double rate = 20;
      Duration settle = Duration.ofSeconds(3);
      int warmup = 200;
      for (int i = 3; i < args.length; i += 2) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(args[i] + " needs a value");
        }
        switch (args[i]) {
          case "--stub-jar" -> jar = Path.of(args[i + 1]);
          case "--store" -> store = args[i + 1];
          case "--rate" -> rate = Double.parseDouble(args[i + 1]);
          case "--settle" -> settle = Duration.parse(args[i + 1]);
          case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
          default -> throw new IllegalArgumentException("unknown option " + args[i]
              + " (--stub-jar, --store, --rate, --settle, --warmup)");
        }
      }
      return new Options(Integer.parseInt(args[1]), Integer.parseInt(args[2]), jar, store, rate,
          settle, warmup);
    }
  }

  /** What the agents saw of one job. */
  private record Receipt(Instant at, long atNanos, Instant submittedAt, Instant leasedAt) {}

  private final Options options;
  private final Path dir;
  private final Map<String, Receipt> receipts = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Void>> completions = new ConcurrentHashMap<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  private ControlPlaneScale(Options options, Path dir) {
    this.options = options;
    this.dir = dir;
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: ControlPlaneScale OUT.json AGENTS JOBS [--stub-jar PATH]"
          + " [--store database|memory] [--rate JOBS_PER_SECOND] [--settle DURATION]"
          + " [--warmup JOBS]");
      System.exit(2);
    }
    ObjectNode out = run(Options.parse(args));
    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(Path.of(args[0]).toFile(), out);
  }

  static ObjectNode run(Options options) throws Exception {
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
        org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(ch.qos.logback.classic.Level.WARN);
    Path dir = Files.createTempDirectory("outpost-scale-");
    try {
      return new ControlPlaneScale(options, dir).measure();
    } finally {
      dev.outpost.agent.workspace.Trees.deleteRecursively(dir);
    }
  }

  private ObjectNode measure() throws Exception {
    ObjectNode out = new ObjectMapper().createObjectNode();
    out.put("scaleAgents", options.agents());
    out.put("scaleJobs", options.jobs());
    out.put("scaleStore", options.store());
    out.put("scaleSubmitRatePerSecond", options.rate());
    List<String> stubFlags = System.getenv().containsKey("BENCH_STUB_JVM_FLAGS")
        ? List.of(System.getenv("BENCH_STUB_JVM_FLAGS").trim().split("\\s+")) : List.of();
    EventLoopGroup loop = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "scale-agents");
      t.setDaemon(true);
      return t;
    });
    List<SimulatedAgent> agents = new ArrayList<>();
    try (StubProcess stub = StubProcess.start(dir.resolve("stub"), options.stubJar(),
            options.store(), stubFlags);
        AdminClient admin = new AdminClient(stub.adminTarget(), stub.adminToken())) {
      admin.blocking(30).createOrg(CreateOrgRequest.newBuilder().setName(ORG).build());
      String key = admin.blocking(30).createKey(CreateKeyRequest.newBuilder().setOrg(ORG)
          .setDescription("scale bench agents").build()).getSecret();

      long began = System.nanoTime();
      List<SslContext> identities = issueIdentities(new PkiFiles(dir.resolve("stub/pki")));
      out.put("scaleIssueSeconds", (System.nanoTime() - began) / 1e9);

      SimulatedAgent.Events events = new Events();
      for (int i = 0; i < options.agents(); i++) {
        agents.add(new SimulatedAgent(agentName(i),
            new java.net.InetSocketAddress("127.0.0.1", stub.agentPort()), identities.get(i),
            loop, executor, key, events));
      }
      began = System.nanoTime();
      double cpu = stub.cpuSeconds();
      connectAll(agents);
      out.put("scaleConnectSeconds", (System.nanoTime() - began) / 1e9);
      out.put("scaleStubCpuSecondsConnect", stub.cpuSeconds() - cpu);

      // Lets the connection burst's compilation, garbage and buffers settle.
      Thread.sleep(options.settle().toMillis());
      out.put("scaleStubRssKiB", stub.rssKiB());
      out.put("scaleStubHeapUsedKiB", stub.heapUsedAfterGcKiB());

      out.put("scaleWarmupJobs", options.warmup());
      Map<String, Long> warm = submitAll(admin, "warm", options.warmup(),
          out.putArray("scaleWarmupSubmitCallMillis"));
      record(warm, out.putArray("scaleWarmupDispatchMillis"), null, null);
      // What the connected agents cost the warm stub while no job runs (keepalive pings, the
      // checks for expired keys, certificates and leases every second), in % of one core.
      cpu = stub.cpuSeconds();
      began = System.nanoTime();
      Thread.sleep(options.settle().toMillis());
      out.put("scaleStubCpuIdlePercent", options.settle().isZero() ? 0
          : (stub.cpuSeconds() - cpu) * 1e11 / (System.nanoTime() - began));

      began = System.nanoTime();
      cpu = stub.cpuSeconds();
      Map<String, Long> submitStart = submitAll(admin, "ws", options.jobs(),
          out.putArray("scaleSubmitCallMillis"));
      out.put("scaleJobsSeconds", (System.nanoTime() - began) / 1e9);
      // The stub's CPU per job (submission, dispatch, download, result): what the latency costs
      // when the machine has no CPU to spare.
      out.put("scaleStubCpuMillisPerJob", options.jobs() == 0 ? 0
          : (stub.cpuSeconds() - cpu) * 1000 / options.jobs());
      // The machine's load at the end of the jobs: other work on the machine shows here.
      out.put("scaleLoadAverage", loadAverage());
      record(submitStart, out.putArray("scaleDispatchMillis"),
          out.putArray("scaleSubmitToAssignmentMillis"), out.putArray("scaleStubLeaseMillis"));

      Thread.sleep(options.settle().toMillis());
      out.put("scaleStubRssAfterKiB", stub.rssKiB());
      out.put("scaleStubRssPeakKiB", stub.peakRssKiB());
      out.put("scaleStubHeapUsedAfterKiB", stub.heapUsedAfterGcKiB());
      out.put("scaleSessionsLost", agents.stream().filter(a -> !a.connected()).count());
      if (!stub.isAlive()) {
        throw new IllegalStateException("the stub died during the run");
      }
    } finally {
      agents.forEach(SimulatedAgent::close);
      for (SimulatedAgent a : agents) {
        a.awaitClosed();
      }
      executor.shutdownNow();
      loop.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
    return out;
  }

  private static double loadAverage() throws java.io.IOException {
    return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
  }

  private static String agentName(int i) {
    return String.format("sim-%05d", i);
  }

  /** One EC key and client certificate per agent, signed by the stub's CA, kept in memory. */
  private List<SslContext> issueIdentities(PkiFiles pki) throws Exception {
    CertificateAuthority ca = CertificateAuthority.load(pki.caCert(), pki.caKey());
    String trustDomain = ControlPlane.Settings.defaults().trustDomain();
    List<SslContext> identities = new ArrayList<>();
    for (int i = 0; i < options.agents(); i++) {
      KeyPair pair = CertificateAuthority.newEcKeyPair();
      var cert = ca.issueClient(pair.getPublic(), trustDomain, ORG, agentName(i),
          Duration.ofHours(2));
      identities.add(GrpcSslContexts.forClient().keyManager(pair.getPrivate(), cert)
          .trustManager(ca.certificate()).build());
    }
    return identities;
  }

  /**
   * Connects every agent, at most 64 handshakes in flight (a thousand at once would only queue
   * in the stub's accept backlog and time out handshakes on two cores).
   */
  private void connectAll(List<SimulatedAgent> agents) throws Exception {
    Semaphore inFlight = new Semaphore(64);
    List<CompletableFuture<?>> welcomes = new ArrayList<>();
    for (SimulatedAgent agent : agents) {
      inFlight.acquire();
      welcomes.add(agent.connect().whenComplete((w, t) -> inFlight.release()));
    }
    CompletableFuture.allOf(welcomes.toArray(CompletableFuture[]::new))
        .get(5, TimeUnit.MINUTES);
  }

  private static SubmitJobHeader job(String prefix, int i) {
    return SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg(ORG)
            .setName(String.format("%s-%05d", prefix, i)))
        .setType(JobType.newBuilder().setTemplateImport(TemplateImport.getDefaultInstance()))
        .build();
  }

  /**
   * Submits every job (open-loop at the rate, or one at a time) and waits until all completed.
   * Returns when each submit call started (System.nanoTime), by job id.
   */
  private Map<String, Long> submitAll(AdminClient admin, String prefix, int jobs,
      ArrayNode callMillis) throws Exception {
    Path source = Files.createDirectories(dir.resolve("source"));
    Files.writeString(source.resolve("main.tf"), "output \"x\" {\n  value = \"bench\"\n}\n");
    byte[] archive = SourceArchive.pack(source);
    Map<String, Long> started = new ConcurrentHashMap<>();
    double[] calls = new double[jobs];
    Duration budget = Duration.ofMinutes(2).plusSeconds(
        options.rate() > 0 ? (long) (jobs / options.rate()) : jobs);
    long deadline = System.nanoTime() + budget.toNanos();
    List<CompletableFuture<String>> submissions = new ArrayList<>();
    long period = options.rate() > 0 ? (long) (1e9 / options.rate()) : 0;
    long first = System.nanoTime();
    for (int i = 0; i < jobs; i++) {
      long wait = first + i * period - System.nanoTime();
      if (period > 0 && wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait);
      }
      check();
      int n = i;
      long start = System.nanoTime();
      CompletableFuture<String> id = submit(admin, job(prefix, i), archive).thenApply(job -> {
        calls[n] = (System.nanoTime() - start) / 1e6;
        started.put(job.getId(), start);
        return job.getId();
      });
      submissions.add(id);
      if (period == 0) {
        await(id.thenCompose(this::completion), deadline);
      }
    }
    for (CompletableFuture<String> id : submissions) {
      await(id.thenCompose(this::completion), deadline);
    }
    check();
    for (double ms : calls) {
      callMillis.add(ms);
    }
    return started;
  }

  /**
   * Submits a job without blocking (the header, then the archive in chunks, as AdminClient
   * does), so that a slow answer never delays the next submission: the rate stays the rate.
   */
  private static CompletableFuture<Job> submit(AdminClient admin, SubmitJobHeader header,
      byte[] archive) throws java.io.IOException {
    return admin.submitAsync(header, archive);
  }

  private CompletableFuture<Void> completion(String jobId) {
    return completions.computeIfAbsent(jobId, k -> new CompletableFuture<>());
  }

  /** Waits for a job's completion, failing early when an agent or a submission failed. */
  private void await(CompletableFuture<?> done, long deadline) throws Exception {
    while (!done.isDone()) {
      check();
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("jobs did not complete in time: " + receipts.size()
            + " assigned, " + completions.values().stream().filter(CompletableFuture::isDone)
            .count() + " completed so far");
      }
      try {
        done.get(100, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException stillRunning) {
        // look at the failures again
      }
    }
  }

  private void check() {
    Throwable t = failure.get();
    if (t != null) {
      throw new IllegalStateException("the run failed: " + t, t);
    }
  }

  /** Adds each job's samples in submission order; a null array is not wanted. */
  private void record(Map<String, Long> submitStart, ArrayNode dispatch, ArrayNode fromSubmitCall,
      ArrayNode leasing) {
    submitStart.entrySet().stream().sorted(Map.Entry.comparingByValue()).forEach(e -> {
      Receipt r = receipts.get(e.getKey());
      if (r == null) {
        throw new IllegalStateException("job " + e.getKey() + " completed but no agent saw it");
      }
      dispatch.add(Duration.between(r.submittedAt(), r.at()).toNanos() / 1e6);
      if (fromSubmitCall != null) {
        fromSubmitCall.add((r.atNanos() - e.getValue()) / 1e6);
      }
      if (leasing != null) {
        leasing.add(Duration.between(r.submittedAt(), r.leasedAt()).toNanos() / 1e6);
      }
    });
  }

  private final class Events implements SimulatedAgent.Events {
    @Override
    public void assigned(JobAssignment assignment, Instant at, long atNanos) {
      receipts.put(assignment.getLease().getJobId(), new Receipt(at, atNanos,
          Times.instant(assignment.getSubmittedAt()), Times.instant(assignment.getLeasedAt())));
    }

    @Override
    public void completed(String jobId) {
      completion(jobId).complete(null);
    }

    @Override
    public void failed(String agent, Throwable cause) {
      failure.compareAndSet(null, new IllegalStateException("agent " + agent + ": " + cause,
          cause));
    }
  }
}
