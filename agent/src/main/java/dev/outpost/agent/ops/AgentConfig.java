package dev.outpost.agent.ops;

import dev.outpost.agent.sandbox.Confinement;
import dev.outpost.agent.sandbox.SandboxLimits;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The agent's validated configuration. Constructed once at start; every invalid value fails
 * here with a message naming the setting, the value and what is allowed.
 */
public record AgentConfig(
    String controlPlane,
    Path caFile,
    Path certFile,
    Path keyFile,
    Path keyPassphraseFile,
    Path orgKeyFile,
    Path stateDir,
    Path workDir,
    String sandbox,
    int maxJobs,
    Path terraform,
    String agentName,
    Map<String, String> tags,
    Duration connectTimeout,
    Duration cancelGrace,
    Duration authWait,
    Duration stageTimeout,
    long minFreeDiskBytes,
    Path providerCache,
    long providerCacheMaxBytes,
    List<Path> providerMirrors,
    List<String> passEnv,
    List<Path> grantFiles,
    List<Path> hidePaths,
    SandboxLimits limits,
    String networkCeiling,
    long jobDiskBudgetBytes,
    Duration drainTimeout,
    long jobLogLimitBytes,
    long spoolBudgetBytes,
    String logPriority,
    boolean once,
    String opsAddress,
    String logFormat,
    String logLevel) {

  /** Always hidden from jobs, with the agent's own directories and key files. */
  public static final Path CONFIG_DIR = Path.of("/etc/outpost");

  private static final Pattern HOST_PORT = Pattern.compile("(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):(\\d{1,5})");
  public static final List<String> LOG_LEVELS = List.of("error", "warn", "info", "debug",
      "trace");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  public AgentConfig {
    tags = Map.copyOf(tags);
    providerMirrors = List.copyOf(providerMirrors);
    passEnv = List.copyOf(passEnv);
    for (Path mirror : providerMirrors) {
      if (!Files.isDirectory(mirror)) {
        throw new ConfigException("--provider-mirror " + mirror + " is not a directory");
      }
    }
    for (String name : passEnv) {
      if (!name.matches("[A-Za-z_][A-Za-z0-9_]*") || name.startsWith("OUTPOST_")) {
        throw new ConfigException("--pass-env " + name + " is invalid: use an environment "
            + "variable name; the agent's own OUTPOST_* settings are never passed to jobs");
      }
    }
    grantFiles = grantFiles.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    hidePaths = hidePaths.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    if (!networkCeiling.equals("full") && !networkCeiling.equals("none")) {
      throw new ConfigException("--network-ceiling '" + networkCeiling
          + "' is invalid: use full or none");
    }
    if (drainTimeout.isNegative()) {
      throw new ConfigException("--drain-timeout " + drainTimeout + " must not be negative "
          + "(PT0S interrupts running jobs at once)");
    }
    if (jobDiskBudgetBytes < 0) {
      throw new ConfigException("--job-disk-budget must not be negative (0 means no budget)");
    }
    if (spoolBudgetBytes < 0) {
      throw new ConfigException("--spool-budget must not be negative (0 means no budget)");
    }
    if (!logPriority.equals("idle") && !logPriority.equals("normal")) {
      throw new ConfigException("--log-priority '" + logPriority
          + "' is invalid: use idle or normal");
    }
    if (jobLogLimitBytes < 0) {
      throw new ConfigException("--job-log-limit must not be negative (0 means no limit)");
    }
    if (providerCacheMaxBytes < 0) {
      throw new ConfigException("--provider-cache-max-bytes must not be negative");
    }
    var m = HOST_PORT.matcher(controlPlane == null ? "" : controlPlane);
    if (!m.matches() || Integer.parseInt(m.group(2)) < 1 || Integer.parseInt(m.group(2)) > 65535) {
      throw new ConfigException("--control-plane '" + controlPlane
          + "' is invalid: expected HOST:PORT with a port from 1 to 65535");
    }
    requireReadable("--ca", caFile);
    if ((certFile == null) != (keyFile == null)) {
      throw new ConfigException(certFile == null
          ? "--key is given without --cert: give both, or neither to enroll"
          : "--cert is given without --key: give both, or neither to enroll");
    }
    if (certFile != null) {
      requireReadable("--cert", certFile);
      requireReadable("--key", keyFile);
    }
    if (keyPassphraseFile != null) {
      requireReadable("--key-passphrase-file", keyPassphraseFile);
    }
    requireReadable("--org-key-file", orgKeyFile);
    if (!sandbox.equals("bubblewrap") && !sandbox.equals("none")) {
      throw new ConfigException("--sandbox '" + sandbox + "' is invalid: use bubblewrap or none");
    }
    if (maxJobs < 1 || maxJobs > 64) {
      throw new ConfigException("--max-jobs " + maxJobs + " is invalid: use 1 to 64");
    }
    if (once && maxJobs != 1) {
      throw new ConfigException("--max-jobs " + maxJobs + " is invalid with --once, which takes "
          + "a single job: leave --max-jobs at 1");
    }
    if (!opsAddress.equals("none")) {
      var ops = HOST_PORT.matcher(opsAddress);
      if (!ops.matches() || Integer.parseInt(ops.group(2)) > 65535) {
        throw new ConfigException("--ops-address '" + opsAddress + "' is invalid: expected "
            + "HOST:PORT with a port from 0 to 65535 (0: any free port), or none");
      }
    }
    if (!List.of("auto", "human", "json").contains(logFormat)) {
      throw new ConfigException("--log-format '" + logFormat + "' is invalid: use auto, human "
          + "or json");
    }
    logLevel = logLevel.toLowerCase(java.util.Locale.ROOT);
    if (!LOG_LEVELS.contains(logLevel)) {
      throw new ConfigException("--log-level '" + logLevel + "' is invalid: use "
          + String.join(", ", LOG_LEVELS));
    }
    if (!NAME.matcher(agentName).matches()) {
      throw new ConfigException("--name '" + agentName + "' is invalid: use 1-64 letters, "
          + "digits, '.', '_' or '-'");
    }
    tags.forEach((k, v) -> {
      if (!NAME.matcher(k).matches() || v.length() > 256) {
        throw new ConfigException("--tag '" + k + "=" + v + "' is invalid: the key takes "
            + "letters, digits, '.', '_' or '-'; the value at most 256 characters");
      }
    });
    if (connectTimeout.isNegative() || connectTimeout.isZero()) {
      throw new ConfigException("--connect-timeout " + connectTimeout + " must be positive");
    }
    if (stageTimeout.isNegative()) {
      throw new ConfigException("--stage-timeout " + stageTimeout
          + " must not be negative (PT0S means no limit)");
    }
    if (minFreeDiskBytes < 0) {
      throw new ConfigException("--min-free-disk " + minFreeDiskBytes + " must not be negative");
    }
    if (authWait.isNegative()) {
      throw new ConfigException("--auth-wait " + authWait + " must not be negative");
    }
    if (cancelGrace.isNegative()) {
      throw new ConfigException("--cancel-grace " + cancelGrace + " must not be negative");
    }
    stateDir = stateDir.toAbsolutePath().normalize();
    workDir = workDir.toAbsolutePath().normalize();
    if (stateDir.startsWith(workDir) || workDir.startsWith(stateDir)) {
      throw new ConfigException("--state-dir " + stateDir + " and --work-dir " + workDir
          + " must not contain each other: jobs must never see the agent's keys and spool");
    }
    List<Path> secrets = agentSecrets(stateDir, workDir, certFile, keyFile, keyPassphraseFile,
        orgKeyFile);
    for (Path grant : grantFiles) {
      if (!Files.isReadable(grant)) {
        throw new ConfigException("--grant-file " + grant + " does not exist or is not readable");
      }
      Path real = realPath(grant);
      for (Path secret : secrets) {
        if (real.startsWith(realPath(secret)) || realPath(secret).startsWith(real)) {
          throw new ConfigException("--grant-file " + grant + " would show jobs the agent's own "
              + secret + ": grant only what jobs need (credentials files, tokens, SSH keys)");
        }
      }
      // A file inside a hidden directory may be granted; the directory itself may not.
      for (Path hidden : concat(List.of(CONFIG_DIR), hidePaths)) {
        if (realPath(hidden).startsWith(real)) {
          throw new ConfigException("--grant-file " + grant + " would show jobs the hidden path "
              + hidden + ": grant the files inside it that jobs need instead");
        }
      }
    }
  }

  /**
   * rlimits and cgroup limits from the flags; 0 turns one off. Core dumps are always off.
   *
   * @param cpuCores null or 0: no CPU quota
   */
  public static SandboxLimits limits(long openFiles, long fileSize, long processes, long memory,
      BigDecimal cpuCores) {
    check("--limit-open-files", openFiles, 16, Long.toString(openFiles));
    check("--limit-file-size", fileSize, 1, Long.toString(fileSize));
    check("--limit-processes", processes, 8, Long.toString(processes));
    check("--limit-memory", memory, 16L << 20, Long.toString(memory));
    long cpuMillis;
    try {
      cpuMillis = cpuCores == null ? 0 : cpuCores.movePointRight(3).longValueExact();
    } catch (ArithmeticException e) {
      throw new ConfigException("--limit-cpu " + cpuCores + " is invalid: use cores with at most"
          + " three decimals, e.g. 1.5");
    }
    check("--limit-cpu", cpuMillis, 10, String.valueOf(cpuCores));
    return new SandboxLimits(orNull(openFiles), orNull(fileSize), 0L, orNull(processes),
        orNull(memory), orNull(cpuMillis));
  }

  private static void check(String option, long value, long min, String given) {
    if (value < 0 || (value > 0 && value < min)) {
      throw new ConfigException(option + " " + given + " is invalid: use 0 (not limited) or at "
          + "least " + (option.equals("--limit-cpu") ? "0.01" : Long.toString(min)));
    }
  }

  private static Long orNull(long value) {
    return value == 0 ? null : value;
  }

  /** What jobs run with: the grants, everything of the agent's hidden, and the limits. */
  public Confinement confinement() {
    List<Path> hidden = new ArrayList<>(agentSecrets(stateDir, workDir, certFile, keyFile,
        keyPassphraseFile, orgKeyFile));
    hidden.add(CONFIG_DIR);
    hidden.addAll(hidePaths);
    return new Confinement(grantFiles, hidden, limits);
  }

  public boolean networkAllowed() {
    return networkCeiling.equals("full");
  }

  private static List<Path> concat(List<Path> a, List<Path> b) {
    List<Path> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  private static List<Path> agentSecrets(Path... paths) {
    List<Path> list = new ArrayList<>();
    for (Path p : paths) {
      if (p != null) {
        list.add(p.toAbsolutePath().normalize());
      }
    }
    return list;
  }

  private static Path realPath(Path p) {
    try {
      return p.toRealPath();
    } catch (IOException e) {
      return p.toAbsolutePath().normalize();
    }
  }

  /** Where the ops endpoints listen; empty with {@code --ops-address none}. */
  public java.util.Optional<java.net.InetSocketAddress> opsSocketAddress() {
    if (opsAddress.equals("none")) {
      return java.util.Optional.empty();
    }
    int colon = opsAddress.lastIndexOf(':');
    String host = opsAddress.substring(0, colon).replaceAll("^\\[|\\]$", "");
    return java.util.Optional.of(new java.net.InetSocketAddress(host,
        Integer.parseInt(opsAddress.substring(colon + 1))));
  }

  /** True when the agent enrolls for its certificate instead of using operator files. */
  public boolean enrolls() {
    return certFile == null;
  }

  /** Creates the state and work directories (0700) when missing. */
  public void prepareDirectories() {
    privateDirectory("--state-dir", stateDir);
    privateDirectory("--work-dir", workDir);
  }

  private static void privateDirectory(String option, Path dir) {
    try {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    } catch (IOException e) {
      throw new ConfigException(option + " " + dir + " cannot be created or secured: " + e, e);
    }
  }

  private static void requireReadable(String option, Path file) {
    if (file == null) {
      throw new ConfigException(option + " is required");
    }
    if (!Files.isRegularFile(file)) {
      throw new ConfigException(option + " " + file + " does not exist or is not a file");
    }
    if (!Files.isReadable(file)) {
      throw new ConfigException(option + " " + file + " is not readable by this user");
    }
  }
}
