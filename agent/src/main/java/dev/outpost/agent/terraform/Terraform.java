package dev.outpost.agent.terraform;

import dev.outpost.agent.sandbox.Confinement;
import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.sandbox.SandboxSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;

/**
 * Terraform for one working directory and binary, shaped like HashiCorp's terraform-exec: one
 * method per command, typed options, flags in {@link Options}. Each method starts the command in
 * the sandbox and returns at once; output goes to files, never to the JVM.
 */
public final class Terraform {
  static final String INIT = "init";
  static final String PLAN = "plan";
  static final String APPLY = "apply";
  static final String SHOW = "show";
  private static final Duration VERSION_TIMEOUT = Duration.ofSeconds(30);
  /** Already visible read-only inside the sandbox; a binary elsewhere needs its dir bound. */
  private static final List<Path> SYSTEM_DIRS =
      List.of(Path.of("/usr"), Path.of("/bin"), Path.of("/sbin"), Path.of("/lib"), Path.of("/etc"));

  private final Path binary;
  private final Path workingDir;
  private final Path jobDir;
  private final Sandbox sandbox;
  private final Map<String, String> environment;
  private final boolean network;
  private final ProviderCache cache;
  private final List<Path> mirrors;
  private final Confinement confinement;

  /** Without a shared provider cache or mirror, granted files, hidden paths or limits. */
  public Terraform(Path binary, Path workingDir, Path jobDir, Sandbox sandbox,
      Map<String, String> environment, boolean network) {
    this(binary, workingDir, jobDir, sandbox, environment, network, null, List.of(),
        Confinement.NONE);
  }

  private Terraform(Path binary, Path workingDir, Path jobDir, Sandbox sandbox,
      Map<String, String> environment, boolean network, ProviderCache cache, List<Path> mirrors,
      Confinement confinement) {
    this.confinement = confinement;
    this.binary = binary.toAbsolutePath();
    this.workingDir = workingDir.toAbsolutePath();
    this.jobDir = jobDir.toAbsolutePath();
    this.sandbox = sandbox;
    this.network = network;
    this.cache = cache;
    this.mirrors = mirrors.stream().map(Path::toAbsolutePath).toList();
    Map<String, String> env = new LinkedHashMap<>(environment);
    env.remove(TerraformEnvironment.PLUGIN_CACHE_DIR);
    env.remove(TerraformEnvironment.PLUGIN_CACHE_MAY_BREAK_LOCK_FILE);
    if (cache != null) {
      env.put(TerraformEnvironment.PLUGIN_CACHE_DIR, cache.dir().toString());
      // Without it, an init with no lock file re-extracts the provider over the cached copy in
      // place (even when the copy is current), which fails with "text file busy" while another
      // job runs that provider. The cache is written only by serialized inits from the configured
      // sources, so trusting it costs nothing; a lock file with checksums is still verified.
      env.put(TerraformEnvironment.PLUGIN_CACHE_MAY_BREAK_LOCK_FILE, "1");
    }
    this.environment = Map.copyOf(env);
  }

  /**
   * The same runner with a shared provider cache and filesystem mirrors (either may be absent):
   * the cache is writable only during {@link #init} (which holds its lock until the run ends),
   * read-only otherwise; mirrors are always read-only. Pass the same mirrors to
   * {@link TerraformEnvironment.Builder#providerMirrors}, which writes them into the CLI config.
   */
  public Terraform withProviders(ProviderCache cacheOrNull, List<Path> mirrors) {
    return new Terraform(binary, workingDir, jobDir, sandbox, environment, network, cacheOrNull,
        mirrors, confinement);
  }

  /** The same runner with the operator's granted files, hidden paths and limits. */
  public Terraform confined(Confinement newConfinement) {
    return new Terraform(binary, workingDir, jobDir, sandbox, environment, network, cache,
        mirrors, newConfinement);
  }

  /** {@link #withProviders(ProviderCache, List)} with at most one mirror. */
  public Terraform withProviders(ProviderCache cacheOrNull, Path mirrorOrNull) {
    return withProviders(cacheOrNull, mirrorOrNull == null ? List.of() : List.of(mirrorOrNull));
  }

  /**
   * With a provider cache, blocks until its writer lock is held (unless the configuration
   * provably needs no provider plugin, see {@link BuiltinOnly}); the returned run releases it
   * once Terraform has ended (see {@link TerraformRun}).
   *
   * @throws InterruptedIOException when interrupted while waiting for the cache lock
   */
  public TerraformRun init(InitOptions o) throws IOException {
    List<String> args = command(INIT, true);
    if (o.upgrade()) {
      args.add("-upgrade");
    }
    if (cache == null || BuiltinOnly.holds(workingDir)) {
      // Nothing to install: the cache stays read-only and other jobs' inits are not waited for.
      return start(INIT, args, null, null);
    }
    ProviderCache.Lease lease;
    try {
      lease = cache.lockForInit();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for the provider cache lock of "
          + cache.dir());
    }
    try {
      return start(INIT, args, null, lease.usedBy(workingDir));
    } catch (IOException | RuntimeException e) {
      lease.close();
      throw e;
    }
  }

  public TerraformRun plan(PlanOptions o) throws IOException {
    List<String> args = command(PLAN, true);
    args.add("-out=" + o.out().toAbsolutePath());
    if (o.detailedExitCode()) {
      args.add("-detailed-exitcode");
    }
    if (o.destroy()) {
      args.add("-destroy");
    }
    for (String target : o.targets()) {
      args.add("-target=" + target);
    }
    for (Path file : o.varFiles()) {
      args.add("-var-file=" + file.toAbsolutePath());
    }
    return start(PLAN, args, null, null);
  }

  public TerraformRun apply(ApplyOptions o) throws IOException {
    List<String> args = command(APPLY, true);
    args.add("-auto-approve");
    if (o.planFileOrNull() != null) {
      args.add(o.planFileOrNull().toAbsolutePath().toString());
    }
    return start(APPLY, args, null, null);
  }

  /** `show -json` of a saved plan, or of the state when planFileOrNull is null. */
  public TerraformRun showJson(Path planFileOrNull, Path outputFile) throws IOException {
    List<String> args = new ArrayList<>(List.of(binary.toString(), SHOW, "-json", "-no-color"));
    if (planFileOrNull != null) {
      args.add(planFileOrNull.toAbsolutePath().toString());
    }
    return start(SHOW, args, outputFile.toAbsolutePath(), null);
  }

  /**
   * The commands an earlier agent process started in this job directory, in order, each
   * re-attached through its control files (running, ended with a status, or gone). A launch
   * that never recorded a pid never ran, and is left out.
   */
  public static List<TerraformRun> recordedRuns(Path jobDir) throws IOException {
    List<TerraformRun> runs = new ArrayList<>();
    for (RunFiles files : RunFiles.recorded(jobDir)) {
      var process = dev.outpost.agent.sandbox.SandboxedProcess.reattach(files.controlDir());
      if (process.isEmpty()) {
        continue;
      }
      runs.add(new TerraformRun(files.stage(), process.get(), files.stdout(), files.stderr()));
    }
    return runs;
  }

  /** `version -json`, unsandboxed: it reads no configuration and ends at once. */
  public static TerraformVersion version(Path binary) throws IOException, InterruptedException {
    CommandLine line = new CommandLine(binary.toAbsolutePath().toString());
    line.addArgument("version", false);
    line.addArgument("-json", false);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    DefaultExecutor executor = DefaultExecutor.builder()
        .setExecuteStreamHandler(new PumpStreamHandler(out, err))
        .get();
    executor.setWatchdog(ExecuteWatchdog.builder().setTimeout(VERSION_TIMEOUT).get());
    executor.setExitValues(null);
    int code;
    try {
      code = executor.execute(line, Map.of("PATH", TerraformEnvironment.SAFE_PATH,
          "CHECKPOINT_DISABLE", "1"));
    } catch (ExecuteException e) {
      throw new IOException(binary + " version -json failed: " + e.getMessage(), e);
    }
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    if (code != 0 || executor.getWatchdog().killedProcess()) {
      throw new IOException(binary + " version -json exited " + code + ": "
          + err.toString(StandardCharsets.UTF_8).strip());
    }
    String name = binary.getFileName().toString().startsWith("tofu") ? "tofu" : "terraform";
    return TerraformVersion.parse(out.toString(StandardCharsets.UTF_8), name);
  }

  private List<String> command(String subcommand, boolean json) {
    List<String> args = new ArrayList<>(List.of(binary.toString(), subcommand));
    args.addAll(Options.NON_INTERACTIVE);
    if (json) {
      args.add(Options.JSON);
    }
    return args;
  }

  /** @param lease the cache's writer lock: the cache is then bound read-write */
  private TerraformRun start(String stage, List<String> argv, Path stdoutOverride,
      ProviderCache.Lease lease) throws IOException {
    RunFiles files = RunFiles.next(jobDir, stage);
    Path stdout = stdoutOverride != null ? stdoutOverride : files.stdout();
    List<Path> readOnly = new ArrayList<>(binaryDirs());
    readOnly.addAll(mirrors);
    readOnly.addAll(confinement.grantedFiles());
    List<Path> readWrite = new ArrayList<>();
    if (cache != null) {
      // The same absolute path inside: .terraform/providers links into the cache by it.
      (lease != null ? readWrite : readOnly).add(cache.dir());
    }
    SandboxSpec spec = new SandboxSpec(jobDir, workingDir, argv, environment, readOnly, readWrite,
        network, stdout, files.stderr(), files.controlDir(), confinement.hiddenPaths(),
        confinement.limits());
    return new TerraformRun(stage, sandbox.start(spec), stdout, files.stderr(), lease);
  }

  /** The binary's directory (and its symlink target's) if the sandbox would not show it. */
  List<Path> binaryDirs() throws IOException {
    Set<Path> dirs = new LinkedHashSet<>();
    dirs.add(binary.getParent());
    if (Files.exists(binary)) {
      dirs.add(binary.toRealPath().getParent());
    }
    dirs.removeIf(d -> d.startsWith(jobDir) || SYSTEM_DIRS.stream().anyMatch(d::startsWith));
    return List.copyOf(dirs);
  }
}
