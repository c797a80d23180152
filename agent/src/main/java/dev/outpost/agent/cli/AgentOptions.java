package dev.outpost.agent.cli;

import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.ops.ConfigException;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** The agent's settings as flags; SettingSources adds OUTPOST_* variables and the config file. */
final class AgentOptions {
  @Option(names = "--config", description = "Config file (.yaml, .yml or .toml): one key per "
      + "flag, named without its dashes (control-plane: HOST:PORT). Flags win over OUTPOST_* "
      + "variables, which win over the file.")
  Path configFile;

  @Option(names = "--ops-address", defaultValue = "127.0.0.1:9464",
      description = "Where /healthz, /readyz and /metrics (Prometheus) are served, HOST:PORT; "
          + "port 0 picks a free one; none: not served (default: ${DEFAULT-VALUE}).")
  String opsAddress;

  @Option(names = "--log-format", defaultValue = "auto",
      description = "human, json (one object per line) or auto: human on a terminal, json "
          + "otherwise (default: ${DEFAULT-VALUE}).")
  String logFormat;

  @Option(names = "--log-level", defaultValue = "info",
      description = "error, warn, info, debug or trace; SIGHUP reads it again from the config "
          + "file, and a changed config file is read within seconds (default: ${DEFAULT-VALUE}).")
  String logLevel;

  @Option(names = "--once", description = "Take one job, finish it, deliver its result and "
      + "log, then exit 0 (for Kubernetes Jobs and autoscaled runners).")
  boolean once;

  @Option(names = "--control-plane", description = "Control plane address HOST:PORT.")
  String controlPlane;

  @Option(names = "--ca", description = "PEM CA bundle that issued the control plane's "
      + "certificate.")
  Path ca;

  @Option(names = "--cert", description = "PEM client certificate (chain) of this agent; "
      + "without --cert and --key the agent enrolls and keeps its key in --state-dir.")
  Path cert;

  @Option(names = "--key", description = "PEM private key of the client certificate "
      + "(PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 with --key-passphrase-file).")
  Path key;

  @Option(names = "--key-passphrase-file", description = "File holding the passphrase of an "
      + "encrypted --key.")
  Path keyPassphraseFile;

  @Option(names = "--org-key-file", description = "File holding the org key (opk_...).")
  Path orgKeyFile;

  @Option(names = "--state-dir", defaultValue = "/var/lib/outpost",
      description = "Agent state: identity and spool; never visible to jobs "
          + "(default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(names = "--work-dir", defaultValue = "/var/lib/outpost-work",
      description = "Job directories (default: ${DEFAULT-VALUE}).")
  Path workDir;

  @Option(names = "--sandbox", defaultValue = "bubblewrap",
      description = "bubblewrap or none (default: ${DEFAULT-VALUE}).")
  String sandbox;

  @Option(names = "--max-jobs", defaultValue = "1", description = "Jobs run at once.")
  int maxJobs;

  @Option(names = "--terraform", defaultValue = "terraform",
      description = "Terraform or OpenTofu binary (default: ${DEFAULT-VALUE} on PATH).")
  String terraform;

  @Option(names = "--name", description = "Agent name (default: the host name).")
  String name;

  @Option(names = "--tag", split = ",", description = "Tag k=v (repeatable or comma-separated); "
      + "must be allowed by the org key.")
  Map<String, String> tags = new LinkedHashMap<>();

  @Option(names = "--connect-timeout", defaultValue = "PT30S",
      description = "How long to try the first connection before exiting with code 4 "
          + "(ISO-8601, default: ${DEFAULT-VALUE}).")
  Duration connectTimeout;

  @Option(names = "--cancel-grace", defaultValue = "PT60S",
      description = "After SIGINT, how long Terraform may take to stop before it is killed "
          + "(ISO-8601, default: ${DEFAULT-VALUE}).")
  Duration cancelGrace;

  @Option(names = "--auth-wait", defaultValue = "PT5M",
      description = "After the control plane refuses the credentials, how long to wait for the "
          + "key or certificate files to change before exiting with code 3 "
          + "(ISO-8601, default: ${DEFAULT-VALUE}).")
  Duration authWait;

  @Option(names = "--drain-timeout", defaultValue = "PT5M",
      description = "On SIGTERM the agent takes no new jobs and lets running ones finish for "
          + "this long, then interrupts them (their state is delivered) and exits 0; a second "
          + "SIGTERM or SIGINT interrupts at once (ISO-8601, default: ${DEFAULT-VALUE}).")
  Duration drainTimeout;

  @Option(names = "--stage-timeout", defaultValue = "PT0S",
      description = "Wall-clock limit of each Terraform command; when it passes the command is "
          + "stopped as on cancel and the job fails. PT0S: no limit (default).")
  Duration stageTimeout;

  @Option(names = "--min-free-disk", defaultValue = "1GiB", converter = SizeConverter.class,
      description = "Space that must be free in --work-dir before a job starts "
          + "(default: ${DEFAULT-VALUE}); below it the job fails at once with a clear message.")
  long minFreeDisk;

  @Option(names = "--provider-cache", description = "Shared provider plugin cache, writable by "
      + "jobs only during init (default: <work-dir>/.providers).")
  Path providerCache;

  @Option(names = "--provider-cache-max-bytes", defaultValue = "10GiB",
      converter = SizeConverter.class,
      description = "Size budget of the provider cache (default: ${DEFAULT-VALUE}).")
  long providerCacheMaxBytes;

  @Option(names = "--provider-mirror", split = ",", description = "A provider filesystem mirror directory "
      + "(repeatable): providers install only from these, read-only, with no registry access.")
  java.util.List<Path> providerMirrors = new java.util.ArrayList<>();

  @Option(names = "--pass-env", split = ",", description = "Names of environment variables "
      + "jobs receive from the agent's environment (repeatable), e.g. AWS_ACCESS_KEY_ID.")
  java.util.List<String> passEnv = new java.util.ArrayList<>();

  @Option(names = "--grant-file", split = ",", description = "A file or directory every job may read "
      + "(repeatable), bound read-only at the same path: a cloud credentials file, a "
      + "web-identity token, an SSH key and known_hosts.")
  java.util.List<Path> grantFiles = new java.util.ArrayList<>();

  @Option(names = "--hide-path", split = ",", description = "A path jobs must never see (repeatable), on top "
      + "of the agent's own state and work directories, key, certificate and org key files and "
      + "/etc/outpost, which are always hidden.")
  java.util.List<Path> hidePaths = new java.util.ArrayList<>();

  @Option(names = "--network-ceiling", defaultValue = "full",
      description = "full: jobs get the network they ask for (full by default); none: every "
          + "job runs without network, whatever it asks (default: ${DEFAULT-VALUE}).")
  String networkCeiling;

  @Option(names = "--job-disk-budget", defaultValue = "10GiB", converter = SizeConverter.class,
      description = "Most a job directory may use while the job runs, each file counted as at "
          + "least 4 KiB; over it the job fails. 0: no budget (default: ${DEFAULT-VALUE}).")
  long jobDiskBudget;

  @Option(names = "--job-log-limit", defaultValue = "512MiB", converter = SizeConverter.class,
      description = "Most log one job may produce (bytes of its lines); a warning goes to the "
          + "job log at 80%%, and at the limit the job is stopped and fails. Every line "
          + "produced is still delivered. 0: no limit (default: ${DEFAULT-VALUE}).")
  long jobLogLimit;

  @Option(names = "--log-priority", defaultValue = "idle",
      description = "idle: the threads that read, redact, parse and send the jobs' output run "
          + "in Linux's idle scheduling class and take only CPU that Terraform leaves (lines "
          + "wait in the output files and the job's journal while Terraform keeps every core "
          + "busy); normal: they compete with Terraform for the CPU (default: "
          + "${DEFAULT-VALUE}).")
  String logPriority;

  @Option(names = "--spool-budget", defaultValue = "2GiB", converter = SizeConverter.class,
      description = "Most the job records in --state-dir may hold (spooled results waiting for "
          + "delivery, refused results kept aside); a warning at 80%%, and a job starts only "
          + "while 64 MiB for its result remain. 0: no budget (default: ${DEFAULT-VALUE}).")
  long spoolBudget;

  @Option(names = "--limit-open-files", defaultValue = "4096",
      description = "Open files per Terraform process (RLIMIT_NOFILE). 0: not limited "
          + "(default: ${DEFAULT-VALUE}).")
  long limitOpenFiles;

  @Option(names = "--limit-file-size", defaultValue = "1GiB", converter = SizeConverter.class,
      description = "Largest file a job may write (RLIMIT_FSIZE). 0: not limited "
          + "(default: ${DEFAULT-VALUE}).")
  long limitFileSize;

  @Option(names = "--limit-processes", defaultValue = "1024",
      description = "Processes and threads of one Terraform command and everything it starts "
          + "(cgroup pids.max). 0: not limited (default: ${DEFAULT-VALUE}).")
  long limitProcesses;

  @Option(names = "--limit-memory", defaultValue = "0", converter = SizeConverter.class,
      description = "Memory of one Terraform command and everything it starts (cgroup memory "
          + "limit), e.g. 2GiB. 0: not limited (default).")
  long limitMemory;

  @Option(names = "--limit-cpu", defaultValue = "0",
      description = "CPU cores one Terraform command may use (cgroup CPU quota), e.g. 1.5. "
          + "0: not limited (default).")
  java.math.BigDecimal limitCpu;

  AgentConfig config() {
    return new AgentConfig(controlPlane, ca, cert, key, keyPassphraseFile, orgKeyFile, stateDir,
        workDir, sandbox, maxJobs, resolveTerraform(terraform), agentName(), tags,
        connectTimeout, cancelGrace, authWait, stageTimeout, minFreeDisk,
        providerCache != null ? providerCache : workDir.resolve(".providers"),
        providerCacheMaxBytes, providerMirrors, passEnv, grantFiles, hidePaths,
        AgentConfig.limits(limitOpenFiles, limitFileSize, limitProcesses, limitMemory, limitCpu),
        networkCeiling, jobDiskBudget, drainTimeout, jobLogLimit, spoolBudget, logPriority, once,
        opsAddress, logFormat, logLevel);
  }

  /** Sizes written as bytes or with a binary unit; the message names the option. */
  static final class SizeConverter implements picocli.CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      try {
        return dev.outpost.agent.ops.ByteSize.parse(value);
      } catch (IllegalArgumentException e) {
        throw new picocli.CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  private String agentName() {
    if (name != null) {
      return name;
    }
    try {
      String host = InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9._-]", "-");
      return host.isEmpty() ? "agent" : host;
    } catch (IOException e) {
      return "agent";
    }
  }

  static Path resolveTerraform(String value) {
    if (value.contains("/")) {
      Path p = Path.of(value).toAbsolutePath();
      if (!Files.isExecutable(p)) {
        throw new ConfigException("--terraform " + value + " is not an executable file");
      }
      return p;
    }
    String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
    for (String dir : path.split(":")) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, value);
      if (Files.isExecutable(candidate) && !Files.isDirectory(candidate)) {
        return candidate.toAbsolutePath();
      }
    }
    throw new ConfigException("--terraform: '" + value + "' was not found on PATH; install "
        + "Terraform or OpenTofu, or give its path");
  }
}
