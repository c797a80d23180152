package dev.outpost.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.sandbox.Confinement;
import dev.outpost.agent.terraform.BareScript;
import dev.outpost.agent.terraform.ProviderCache;
import dev.outpost.proto.Times;
import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.PlanJob;
import dev.outpost.stub.server.SourceArchive;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whole jobs through one agent (started with {@code --max-jobs 8}, the default sandbox, redaction,
 * journal and spool on) against the same Terraform commands run bare by a shell script under the
 * same bubblewrap arguments ({@link BareScript}). Runs alternate, agent first in one round and
 * bare first in the next, so drift on a noisy machine falls on both alike.
 *
 * <ul>
 *   <li>overhead: an agent job from submission to the stored result (both by the control plane's
 *       clock) against the script's wall time, for 20 terraform_data resources with local-exec
 *       (apply jobs) and the AWS example's plan (plan jobs; when a provider mirror is given);
 *   <li>log throughput: an apply whose local-exec prints N lines, same timings, and every line
 *       found exactly once in the stored log;
 *   <li>log latency: lines printed at 5,000 per second, each carrying the time it was written,
 *       against the time the control plane stored it;
 *   <li>concurrency: 8 apply jobs submitted at once against 8 scripts started at once, first
 *       submission (start) to last stored result (end).
 * </ul>
 */
public final class JobRuns {
  private static final Pattern NUMBERED = Pattern.compile("\\(local-exec\\): line (\\d+)$");
  private static final Pattern STAMPED =
      Pattern.compile("\\(local-exec\\): at (\\d+) (\\d+)$");
  private static final Map<String, String> DUMMY_AWS = Map.of("AWS_ACCESS_KEY_ID",
      "AKIAOUTPOSTBENCHONLY0", "AWS_SECRET_ACCESS_KEY", "outpost-bench-secret",
      "AWS_EC2_METADATA_DISABLED", "true");

  private static final String AGENT = "jobs";

  private final Harness h;
  private final Path terraform;
  private final Path mirror;
  private final ProviderCache cache;
  private final Confinement confinement;
  private Process agent;
  private int counter;

  private JobRuns(Harness h, Path terraform, Path mirror) throws IOException {
    this.h = h;
    this.terraform = terraform;
    this.mirror = mirror;
    // The bare scripts share a provider cache like the agent's, so both install from a warm one.
    this.cache = new ProviderCache(Files.createDirectories(h.dir.resolve("bare-providers")),
        10L << 30, Duration.ofDays(30), Clock.systemUTC());
    this.confinement = new Confinement(List.of(), List.of(h.dir.resolve("state-jobs"),
        h.keyFile, Path.of("/etc/outpost")),
        AgentConfig.limits(4096, 1L << 30, 1024, 0, null));
  }

  /**
   * How much to run.
   *
   * @param runs alternating runs per overhead and throughput comparison, and a third of them
   *     (at least one) for the concurrency comparison
   * @param lines lines printed by the throughput run
   * @param latencySeconds how long lines are printed at 5,000 per second for the latency run
   * @param concurrent jobs at once in the concurrency run
   * @param mirror the AWS provider's filesystem mirror, or null to leave the AWS row out
   * @param examples the examples directory (examples/aws-vm is used)
   */
  public record Settings(int runs, int lines, int latencySeconds, int concurrent, Path mirror,
      Path examples) {}

  /**
   * Arguments: agent jar, output JSON, runs per comparison, lines for the throughput run, the
   * AWS provider mirror (empty: none), seconds of paced lines, jobs at once.
   */
  public static void main(String[] args) throws Exception {
    Path mirror = args[4].isEmpty() ? null : Path.of(args[4]);
    ObjectNode out = run(Path.of(args[0]), new Settings(Integer.parseInt(args[2]),
        Integer.parseInt(args[3]), Integer.parseInt(args[5]), Integer.parseInt(args[6]), mirror,
        Path.of("examples").toAbsolutePath()));
    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(Path.of(args[1]).toFile(), out);
  }

  public static ObjectNode run(Path agentJar, Settings settings) throws Exception {
    try (Harness h = Harness.start(agentJar)) {
      return new JobRuns(h, Path.of(which("terraform")), settings.mirror()).measure(settings);
    }
  }

  private ObjectNode measure(Settings s) throws Exception {
    int runs = s.runs();
    int lines = s.lines();
    ObjectNode out = new ObjectMapper().createObjectNode();
    List<String> extra = new ArrayList<>(List.of("--max-jobs", "8"));
    Map<String, String> env = new HashMap<>();
    if (mirror != null) {
      extra.addAll(List.of("--provider-mirror", mirror.toString(), "--pass-env",
          String.join(",", DUMMY_AWS.keySet())));
      env.putAll(DUMMY_AWS);
    }
    int port = Harness.freePort();
    agent = h.startAgent(AGENT, port, extra, env);
    PeakRss peak = new PeakRss(agent.pid());
    try {
      h.awaitReady(agent, port);
      peak.start();
      Path small = write("small", smallConfig());
      // A daemon runs for weeks: its JIT has compiled the job path long before a job comes.
      // Measuring a cold JVM would count the compiler, not the agent.
      byte[] warmUp = SourceArchive.pack(small);
      for (int i = 0; i < WholeProcess.WARM_UP_JOBS; i++) {
        agentJob(warmUp, JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build());
      }
      compare(out.putObject("overheadSmall"), small, true, runs, null);
      if (mirror != null) {
        compare(out.putObject("overheadAws"), s.examples().resolve("aws-vm"), false, runs,
            null);
      }
      Path flood = write("flood", printing("print \"line $_\\n\" for 1.." + lines + ";"));
      ObjectNode throughput = out.putObject("logThroughput");
      throughput.put("lines", lines);
      compare(throughput, flood, true, runs, job -> {
        int[] seen = new int[lines + 1];
        int lost = 0;
        int doubled = 0;
        for (LogEntry e : h.log(job.getId())) {
          Matcher m = NUMBERED.matcher(e.getMessage());
          if (m.find()) {
            seen[Integer.parseInt(m.group(1))]++;
          }
        }
        for (int i = 1; i <= lines; i++) {
          lost += seen[i] == 0 ? 1 : 0;
          doubled += seen[i] > 1 ? seen[i] - 1 : 0;
        }
        throughput.put("lost", throughput.path("lost").asInt() + lost);
        throughput.put("doubled", throughput.path("doubled").asInt() + doubled);
      });
      latency(out, 5_000, s.latencySeconds());
      concurrency(out.putObject("concurrency"), small, s.concurrent(), Math.max(1, runs / 3));
    } finally {
      peak.interrupt();
      Harness.stop(agent);
    }
    out.put("rssDuringJobsKiB", peak.peakKiB);
    return out;
  }

  /** The agent's highest VmRSS, read every 20 ms while the jobs run. */
  private static final class PeakRss extends Thread {
    private final long pid;
    volatile long peakKiB;

    PeakRss(long pid) {
      super("peak-rss");
      this.pid = pid;
      setDaemon(true);
    }

    @Override
    public void run() {
      try {
        while (!isInterrupted()) {
          peakKiB = Math.max(peakKiB, Harness.rssKiB(pid));
          Thread.sleep(20);
        }
      } catch (IOException | InterruptedException ended) {
        // the agent is gone or the run is over
      }
    }
  }

  /**
   * Alternating agent and bare runs of one configuration, after one warm-up of each; {@code
   * check} sees each agent job.
   */
  private void compare(ObjectNode into, Path source, boolean apply, int runs,
      java.util.function.Consumer<Job> check) throws Exception {
    ArrayNode agentMillis = into.putArray("agentMillis");
    ArrayNode bareMillis = into.putArray("bareMillis");
    byte[] archive = SourceArchive.pack(source);
    JobType type = apply ? JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build()
        : JobType.newBuilder().setPlan(PlanJob.getDefaultInstance()).build();
    agentJob(archive, type);
    bare(source, apply);
    for (int i = 0; i < runs; i++) {
      if (i % 2 == 0) {
        agentMillis.add(agentJob(archive, type, check));
        bareMillis.add(bare(source, apply));
      } else {
        bareMillis.add(bare(source, apply));
        agentMillis.add(agentJob(archive, type, check));
      }
    }
  }

  private double agentJob(byte[] archive, JobType type) throws Exception {
    return agentJob(archive, type, null);
  }

  /** Submission to stored result, on a new workspace (no prior state: the same work each time). */
  private double agentJob(byte[] archive, JobType type, java.util.function.Consumer<Job> check)
      throws Exception {
    collectBetweenRuns();
    Job job = h.submit("ws-" + (++counter), type, archive);
    Job done = h.awaitSucceeded(job.getId(), agent, Duration.ofMinutes(10));
    awaitCleanedUp(done.getId());
    if (check != null) {
      check.accept(done);
    }
    return Harness.submittedToFinishedMillis(done);
  }

  /**
   * Until the agent has removed the job's directory, which it does once the control plane has
   * acknowledged the result: the next run starts only after the agent's work for this one.
   */
  private void awaitCleanedUp(String jobId) throws InterruptedException {
    Path dir = h.workDir(AGENT).resolve(jobId);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (Files.exists(dir)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the agent did not remove " + dir + " within 60 s");
      }
      Thread.sleep(5);
    }
  }

  /** The script's wall time, from starting bash to its exit. */
  private double bare(Path source, boolean apply) throws Exception {
    Path script = script(source, apply);
    collectBetweenRuns();
    long began = System.nanoTime();
    Process p = new ProcessBuilder("/bin/bash", script.toString()).redirectErrorStream(true)
        .redirectOutput(script.resolveSibling("bare.out").toFile()).start();
    if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
      throw new IllegalStateException("bare script " + script + " failed: "
          + Files.readString(script.resolveSibling("bare.out")));
    }
    return (System.nanoTime() - began) / 1e6;
  }

  private Path script(Path source, boolean apply) throws IOException {
    return BareScript.write(Files.createDirectories(h.dir.resolve("bare")), "run-" + (++counter),
        source, apply, terraform, mirror == null ? List.of() : List.of(mirror), cache,
        confinement, mirror == null ? Map.of() : DUMMY_AWS);
  }

  /**
   * Lines printed at {@code rate} per second for {@code seconds}, each with the wall-clock time
   * it was written (microseconds since the epoch); latency is the control plane storing it.
   */
  private void latency(ObjectNode out, int rate, int seconds) throws Exception {
    Path source = write("paced", printing("use Time::HiRes qw(time sleep); $| = 1; "
        + "my $t0 = time; for my $i (1.." + rate * seconds + ") { my $due = $t0 + $i / " + rate
        + "; my $now = time; sleep($due - $now) if $due > $now; "
        + "printf(\"at %d %d\\n\", $i, time * 1e6); }"));
    // By sequence: an entry sent again after a lost acknowledgement is counted once, as stored.
    Map<Long, Double> millis = new java.util.concurrent.ConcurrentHashMap<>();
    String workspace = "ws-" + (++counter);
    collectBetweenRuns();
    Job job = h.submit(workspace, JobType.newBuilder().setApply(ApplyJob.getDefaultInstance())
        .build(), SourceArchive.pack(source));
    h.onStored(job.getId(), e -> {
      Matcher m = STAMPED.matcher(e.getMessage());
      if (m.find()) {
        Instant now = Instant.now();
        long written = Long.parseLong(m.group(2));
        millis.putIfAbsent(e.getSeq(),
            (now.getEpochSecond() * 1_000_000 + now.getNano() / 1000 - written) / 1e3);
      }
    });
    h.awaitSucceeded(job.getId(), agent, Duration.ofMinutes(5));
    ArrayNode samples = out.putObject("logLatency").put("linesPerSecond", rate)
        .putArray("millis");
    millis.values().forEach(samples::add);
  }

  /** {@code jobs} applies submitted at once vs {@code jobs} scripts started at once. */
  private void concurrency(ObjectNode into, Path source, int jobs, int rounds) throws Exception {
    into.put("jobs", jobs);
    ArrayNode agentMillis = into.putArray("agentMillis");
    ArrayNode bareMillis = into.putArray("bareMillis");
    ArrayNode perJob = into.putArray("perJobMillis");
    byte[] archive = SourceArchive.pack(source);
    JobType apply = JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build();
    for (int round = 0; round < rounds; round++) {
      for (int order = 0; order < 2; order++) {
        collectBetweenRuns();
        if ((round + order) % 2 == 0) {
          List<Job> submitted = new ArrayList<>();
          for (int i = 0; i < jobs; i++) {
            submitted.add(h.submit("ws-" + (++counter), apply, archive));
          }
          Instant first = Times.instant(submitted.get(0).getSubmittedAt());
          Instant last = first;
          for (Job job : submitted) {
            Job done = h.awaitSucceeded(job.getId(), agent, Duration.ofMinutes(10));
            Instant finished = Times.instant(done.getFinishedAt());
            last = finished.isAfter(last) ? finished : last;
            perJob.add(Harness.submittedToFinishedMillis(done));
          }
          agentMillis.add(Duration.between(first, last).toNanos() / 1e6);
        } else {
          List<Path> scripts = new ArrayList<>();
          for (int i = 0; i < jobs; i++) {
            scripts.add(script(source, true));
          }
          long began = System.nanoTime();
          List<Process> running = new ArrayList<>();
          for (Path script : scripts) {
            running.add(new ProcessBuilder("/bin/bash", script.toString())
                .redirectErrorStream(true)
                .redirectOutput(script.resolveSibling("bare.out").toFile()).start());
          }
          for (Process p : running) {
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
              throw new IllegalStateException("a bare script of the concurrency run failed");
            }
          }
          bareMillis.add((System.nanoTime() - began) / 1e6);
        }
      }
    }
  }

  /**
   * A full collection of this JVM, which hosts the control plane, before each timed run (the
   * agent's and the bare script's alike), so that its collector works between the runs, not
   * during them. The control plane keeps every stored entry (a 200,000-line apply stores some
   * 100 MiB), and a young collection copies all it stored since the one before: 150 to 265 ms
   * with this JVM's flags, once every one or two such applies; one that fell inside the
   * latency run held back every line for as long (p99 110 and 244 ms in two runs), and each
   * took CPU from Terraform on the two cores they share. A real control plane runs elsewhere.
   */
  private static void collectBetweenRuns() {
    System.gc();
  }

  /** 20 terraform_data resources, each with a local-exec that prints one line. */
  private static String smallConfig() {
    return "resource \"terraform_data\" \"r\" {\n  count = 20\n  input = count.index\n"
        + "  provisioner \"local-exec\" {\n    command = \"echo created ${count.index}\"\n  }\n}\n";
  }

  /** One terraform_data whose local-exec runs a Perl program (the sandbox has /usr/bin/perl). */
  private static String printing(String perl) {
    return "resource \"terraform_data\" \"p\" {\n  provisioner \"local-exec\" {\n"
        + "    command = <<-EOT\n      /usr/bin/perl -e '" + perl.replace("${", "$${")
            .replace("%{", "%%{") + "'\n    EOT\n  }\n}\n";
  }

  private Path write(String name, String mainTf) throws IOException {
    Path dir = Files.createDirectories(h.dir.resolve("configs").resolve(name));
    Files.writeString(dir.resolve("main.tf"), mainTf);
    return dir;
  }

  private static String which(String program) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
      Path candidate = Path.of(dir, program);
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    throw new IllegalStateException(program + " is not on PATH");
  }
}
