package dev.outpost.agent.ops;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
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
    List<String> passEnv) {

  private static final Pattern HOST_PORT = Pattern.compile("(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):(\\d{1,5})");
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
