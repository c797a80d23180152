package dev.outpost.agent.cli;

import dev.outpost.agent.daemon.Agent;
import dev.outpost.agent.daemon.ControlPlaneClient;
import dev.outpost.agent.daemon.Credentials;
import dev.outpost.agent.daemon.IdentitySource;
import dev.outpost.agent.job.JobSettings;
import dev.outpost.agent.job.Lifecycle;
import dev.outpost.agent.logs.LogReaders;
import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.ops.AgentMetrics;
import dev.outpost.agent.ops.ConfigException;
import dev.outpost.agent.ops.ConfigFile;
import dev.outpost.agent.ops.OpsServer;
import dev.outpost.agent.ops.SystemdNotifier;
import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.sandbox.SandboxUnavailableException;
import dev.outpost.agent.spool.JobSpool;
import dev.outpost.agent.terraform.ProviderCache;
import dev.outpost.agent.terraform.Terraform;
import dev.outpost.agent.terraform.TerraformVersion;
import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.TerraformBinary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

@Command(name = "run", description = "Connect to the control plane and run jobs until stopped. "
    + "Every option can also be set as an OUTPOST_* environment variable "
    + "(--control-plane as OUTPOST_CONTROL_PLANE, ...) or in the --config file.")
final class RunCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(RunCommand.class);
  /** The watchdog is fed only while the agent's main loop went round this recently. */
  private static final Duration ALIVE = Duration.ofSeconds(45);

  @Mixin
  AgentOptions options = new AgentOptions();

  @Spec
  CommandSpec spec;

  /**
   * Which TLS the connections use: BoringSSL (Netty's native library, bundled for Linux x86-64)
   * when it loads, else the JDK's, with the reason.
   */
  static String tls() {
    if (io.netty.handler.ssl.OpenSsl.isAvailable()) {
      return "TLS in " + io.netty.handler.ssl.OpenSsl.versionString();
    }
    Throwable cause = io.netty.handler.ssl.OpenSsl.unavailabilityCause();
    return "TLS in the JDK (the native library did not load: "
        + (cause == null ? "unknown" : cause.getMessage()) + ")";
  }

  @Override
  public Integer call() throws Exception {
    AgentConfig config = options.config();
    Logging.apply(config.logFormat(), config.logLevel());
    config.prepareDirectories();
    PrometheusMeterRegistry registry = metricsRegistry();
    AtomicReference<Agent> running = new AtomicReference<>();
    try (SystemdNotifier systemd = SystemdNotifier.fromEnvironment(System.getenv());
        OpsServer ops = config.opsSocketAddress().map(address -> OpsServer.start(address,
            registry, () -> running.get() == null ? List.of("starting: local preflight")
                : running.get().notReady())).orElse(null)) {
      // The local preflight mostly waits for child processes (terraform version, the sandbox
      // probe): it runs while the credentials are read and the TLS handshake with the control
      // plane is made, which is most of what start to ready costs. Its verdict still comes
      // first, as if the two ran one after the other, and readiness waits for both.
      FutureTask<Preflight.Local> preflight = new FutureTask<>(() -> Preflight.local(config));
      Thread checks = new Thread(preflight, "preflight");
      checks.setDaemon(true);
      checks.start();
      Credentials credentials;
      try {
        credentials = credentials(config);
      } catch (ConfigException e) {
        Preflight.Local local = outcome(preflight);
        if (local.failure() != null) {
          return fail(local.failureCode(), local.failure());
        }
        throw e;
      }
      // The log channel's threads join the readers' and senders' scheduling class.
      LogReaders logReaders = new LogReaders(config.logPriority().equals("idle"));
      try (ControlPlaneClient client = new ControlPlaneClient(config.controlPlane(),
          credentials, logReaders::enterForSending)) {
        if (credentials.certificate().isPresent()) {
          client.connectAhead();
        }
        Preflight.Local local = outcome(preflight);
        if (local.failure() != null) {
          return fail(local.failureCode(), local.failure());
        }
        Sandbox box = local.sandbox();
        TerraformVersion version = local.terraform();
        if (box.name().equals("none")) {
          log.warn("--sandbox=none: jobs run UNCONFINED with the agent's privileges");
        } else {
          log.info("sandbox {}: {}; network ceiling {}; {} granted file(s)", box.name(),
              box.limitsInForce(config.limits()).summary(), config.networkCeiling(),
              config.grantFiles().size());
        }
        JobSettings jobs = new JobSettings(config.workDir(), config.terraform(),
            TerraformBinary.newBuilder().setName(version.name()).setVersion(version.version())
                .build(),
            box, config.cancelGrace(), Clock.systemUTC(), new Lifecycle(), config.stageTimeout(),
            config.minFreeDiskBytes(), new ProviderCache(config.providerCache(),
                config.providerCacheMaxBytes(), Duration.ofDays(30), Clock.systemUTC()),
            config.providerMirrors(), config.passEnv(), config.confinement(),
            config.networkAllowed(), config.jobDiskBudgetBytes(), config.stateDir(),
            config.jobLogLimitBytes(), config.spoolBudgetBytes(),
            logReaders);
        log.info("outpost-agent {} starting: {} {}, sandbox {}, {} slot(s), control plane {}, {}{}",
            AgentMain.version(), version.name(), version.version(), box.name(), config.maxJobs(),
            config.controlPlane(), tls(), config.once() ? ", --once" : "");
        Agent agent = new Agent(config, client, credentials, jobs, AgentMain.version());
        WorkDirectory.reportLeftovers(config.workDir(), agent.resumeJobs());
        agentGauges(agent, config.stateDir());
        running.set(agent);
        // Ready for systemd after the local preflight, not after connecting: a control plane
        // that is down at boot must not fail the unit. /readyz says whether jobs can come.
        systemd.ready(agent.statusLine());
        ScheduledExecutorService ticker = ticker(agent, systemd);
        try {
          // Signal handlers instead of shutdown hooks: the agent then drains and returns its
          // own exit code rather than dying with 143. SIGTERM drains (a second one, or SIGINT,
          // interrupts the running jobs at once).
          Signal.handle(new Signal("TERM"), s -> {
            agent.drain(config.drainTimeout());
            systemd.stopping(agent.statusLine());
          });
          Signal.handle(new Signal("INT"), s -> {
            agent.stop();
            systemd.stopping("stopping: interrupting running jobs");
          });
          // SIGHUP: credentials, the logging configuration and the config file's log level
          // are read again; the JVM lives on.
          Signal.handle(new Signal("HUP"), s -> {
            reloadLogging(true);
            agent.reload();
          });
          return agent.run();
        } finally {
          ticker.shutdownNow();
        }
      }
    }
  }

  /** Waits for the local preflight's findings; what it threw is thrown here. */
  private static Preflight.Local outcome(FutureTask<Preflight.Local> preflight)
      throws InterruptedException {
    try {
      return preflight.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof InterruptedException interrupted) {
        throw interrupted;
      }
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException("the local preflight failed", cause);
    }
  }

  /** Prometheus for /metrics, with the JVM's and the process's own meters. */
  private static PrometheusMeterRegistry metricsRegistry() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Metrics.addRegistry(registry);
    new JvmMemoryMetrics().bindTo(Metrics.globalRegistry);
    new JvmGcMetrics().bindTo(Metrics.globalRegistry);
    new JvmThreadMetrics().bindTo(Metrics.globalRegistry);
    new ClassLoaderMetrics().bindTo(Metrics.globalRegistry);
    new ProcessorMetrics().bindTo(Metrics.globalRegistry);
    new UptimeMetrics().bindTo(Metrics.globalRegistry);
    new FileDescriptorMetrics().bindTo(Metrics.globalRegistry);
    return registry;
  }

  private static void agentGauges(Agent agent, Path stateDir) {
    Gauge.builder("outpost.jobs.running", agent, Agent::runningJobs)
        .description("Jobs running on this agent").register(Metrics.globalRegistry);
    Gauge.builder("outpost.ready", agent, a -> a.notReady().isEmpty() ? 1 : 0)
        .description("1 when /readyz answers 200").register(Metrics.globalRegistry);
    Gauge.builder("outpost.certificate.expiry", agent, a -> {
      Instant expiry = a.certificateExpiry();
      return expiry == null ? Double.NaN : expiry.getEpochSecond();
    }).description("When the client certificate expires (Unix seconds)").baseUnit("seconds")
        .register(Metrics.globalRegistry);
    Gauge.builder("outpost.spool.size", stateDir, JobSpool::usage)
        .description("Bytes held by job records: spooled and refused results").baseUnit("bytes")
        .register(Metrics.globalRegistry);
  }

  /**
   * Once a second: systemd's STATUS= when it changed, the watchdog while the main loop is
   * alive, and the config file's log level when the file changed.
   */
  private ScheduledExecutorService ticker(Agent agent, SystemdNotifier systemd) {
    ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "ticker");
      t.setDaemon(true);
      return t;
    });
    AtomicReference<String> status = new AtomicReference<>("");
    long watchdogEvery = systemd.watchdogInterval().map(Duration::toMillis).orElse(0L);
    AtomicReference<Long> lastFed = new AtomicReference<>(0L);
    Path configFile = configFile();
    AtomicReference<String> seen = new AtomicReference<>(fingerprint(configFile));
    ticker.scheduleWithFixedDelay(() -> {
      try {
        String now = agent.statusLine();
        if (!now.equals(status.getAndSet(now)) && !agent.draining()) {
          systemd.status(now);
        }
        long ms = System.currentTimeMillis();
        if (watchdogEvery > 0 && ms - lastFed.get() >= watchdogEvery && agent.alive(ALIVE)) {
          systemd.watchdog();
          lastFed.set(ms);
        }
        String print = fingerprint(configFile);
        if (configFile != null && !print.equals(seen.getAndSet(print))) {
          reloadLogging(false);
        }
      } catch (RuntimeException e) {
        log.warn("ticker: {}", e.toString());
      }
    }, 0, 1, TimeUnit.SECONDS);
    return ticker;
  }

  private Path configFile() {
    ConfigFile file = ((SettingSources) spec.commandLine().getDefaultValueProvider()).file();
    return file == null ? null : file.path();
  }

  private static String fingerprint(Path file) {
    try {
      return file == null ? "" : Files.getLastModifiedTime(file) + "/" + Files.size(file);
    } catch (IOException e) {
      return "unreadable";
    }
  }

  /**
   * The logging configuration again; with a config file, its {@code log-level} (unless a flag
   * or OUTPOST_LOG_LEVEL set the level, which win). A broken file keeps the level in force.
   */
  private void reloadLogging(boolean signalled) {
    String level = options.logLevel;
    Path file = configFile();
    SettingSources sources = (SettingSources) spec.commandLine().getDefaultValueProvider();
    String source = sources.source(spec.findOption("--log-level"),
        spec.commandLine().getParseResult());
    if (file != null && (source.startsWith("file") || source.equals("default"))) {
      try {
        String fromFile = ConfigFile.read(file, SettingSources.keys(spec)).get("log-level");
        if (fromFile != null) {
          if (!AgentConfig.LOG_LEVELS.contains(fromFile.toLowerCase(java.util.Locale.ROOT))) {
            throw new ConfigException("--config " + file + ": log-level '" + fromFile
                + "' is invalid: use " + String.join(", ", AgentConfig.LOG_LEVELS));
          }
          level = fromFile;
        }
      } catch (ConfigException e) {
        log.error("the config file was not read again, the log level stays {}: {}", level,
            e.getMessage());
      }
    }
    options.logLevel = level;
    Logging.apply(options.logFormat, level);
    log.info("logging configuration read again ({}): level {}",
        signalled ? "SIGHUP" : "the config file changed", level);
  }

  static Credentials credentials(AgentConfig config) {
    IdentitySource source = config.enrolls()
        ? IdentitySource.Enrolled.in(config.stateDir())
        : new IdentitySource.OperatorFiles(config.certFile(), config.keyFile(),
            config.keyPassphraseFile());
    return Credentials.create(config.caFile(), config.orgKeyFile(), source);
  }

  static int fail(int code, String message) {
    System.err.println("outpost-agent: " + message);
    return code;
  }
}
