package dev.outpost.agent.terraform;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The child environment, built from an allowlist: keys the runner owns plus names the operator
 * granted. Nothing else of the agent's environment (its org key, its config) can reach a job.
 */
public final class TerraformEnvironment {
  public static final String SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  static final String DEFAULT_LANG = "C.UTF-8";
  /** The agent's own settings; never passed on, even if an operator lists one by mistake. */
  static final String AGENT_PREFIX = "OUTPOST_";
  static final String PLUGIN_CACHE_DIR = "TF_PLUGIN_CACHE_DIR";
  static final String PLUGIN_CACHE_MAY_BREAK_LOCK_FILE =
      "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE";
  static final Set<String> OWNED = Set.of("PATH", "HOME", "TMPDIR", "TF_IN_AUTOMATION", "TF_INPUT",
      "CHECKPOINT_DISABLE", "TF_CLI_CONFIG_FILE", PLUGIN_CACHE_DIR, PLUGIN_CACHE_MAY_BREAK_LOCK_FILE);
  private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  private TerraformEnvironment() {}

  public static Builder forJob(Path jobDir) {
    return new Builder(jobDir.toAbsolutePath());
  }

  static Path home(Path jobDir) {
    return jobDir.resolve(".outpost").resolve("home");
  }

  /** The job's temporary directory: on disk, inside the job directory, so its disk budget counts it. */
  static Path tmp(Path jobDir) {
    return jobDir.resolve(".outpost").resolve("tmp");
  }

  static Path cliConfig(Path jobDir) {
    return jobDir.resolve(".outpost").resolve("terraformrc");
  }

  public static final class Builder {
    private final Path jobDir;
    private final Map<String, String> granted = new LinkedHashMap<>();
    private String lang = DEFAULT_LANG;
    private List<Path> providerMirrors = List.of();

    private Builder(Path jobDir) {
      this.jobDir = jobDir;
    }

    /**
     * Copies the named variables from source (e.g. System.getenv()); names missing there are
     * skipped. LANG and LC_* may be granted and then win over the default.
     *
     * @throws IllegalArgumentException for an invalid name, an agent setting (OUTPOST_*) or a
     *     key the runner owns
     */
    public Builder passThrough(Collection<String> names, Map<String, String> source) {
      for (String name : names) {
        if (!NAME.matcher(name).matches()) {
          throw new IllegalArgumentException("pass-through variable name '" + name
              + "' is not valid: use letters, digits and underscores");
        }
        if (name.startsWith(AGENT_PREFIX)) {
          throw new IllegalArgumentException("pass-through variable " + name
              + " is an agent setting (" + AGENT_PREFIX + "*) and is never given to jobs");
        }
        if (OWNED.contains(name)) {
          throw new IllegalArgumentException("pass-through variable " + name
              + " is set by the runner itself; allowed are names other than " + OWNED);
        }
        String value = source.get(name);
        if (value != null) {
          granted.put(name, value);
        }
      }
      return this;
    }

    public Builder lang(String lang) {
      this.lang = lang;
      return this;
    }

    /** Installs providers only from this filesystem mirror (no registry access). */
    public Builder providerMirror(Path mirror) {
      return providerMirrors(mirror == null ? List.of() : List.of(mirror));
    }

    /**
     * Installs providers only from these filesystem mirrors (no registry access); a version
     * found in several comes from the first. Bind them into the sandbox with
     * {@link Terraform#withProviders}.
     */
    public Builder providerMirrors(List<Path> mirrors) {
      this.providerMirrors = List.copyOf(mirrors);
      return this;
    }

    /** Creates the job's HOME, TMPDIR and CLI config file, and returns the complete environment. */
    public Map<String, String> build() throws IOException {
      Path home = home(jobDir);
      for (Path dir : List.of(home, tmp(jobDir))) {
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rwx------")));
      }
      Path rc = cliConfig(jobDir);
      Path tmp = rc.resolveSibling(rc.getFileName() + ".tmp");
      Files.writeString(tmp, CliConfig.render(providerMirrors));
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      Files.move(tmp, rc, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

      Map<String, String> env = new LinkedHashMap<>();
      env.put("PATH", SAFE_PATH);
      env.put("HOME", home.toString());
      // Not the sandbox's /tmp, which is memory: temporary files count against the disk budget.
      env.put("TMPDIR", tmp(jobDir).toString());
      env.put("LANG", lang);
      env.put("TF_IN_AUTOMATION", "1");
      env.put("TF_INPUT", "0");
      // No calls home to checkpoint.hashicorp.com from inside a job.
      env.put("CHECKPOINT_DISABLE", "1");
      // Overrides whatever the agent's environment says (here: a missing file Terraform warns about).
      env.put("TF_CLI_CONFIG_FILE", rc.toString());
      env.putAll(granted);
      return Map.copyOf(env);
    }
  }

  /** The per-job CLI config; provider_installation is the hook for mirrors and caches. */
  static final class CliConfig {
    private CliConfig() {}

    static String render(Path providerMirror) {
      return render(providerMirror == null ? List.of() : List.of(providerMirror));
    }

    static String render(List<Path> providerMirrors) {
      StringBuilder text = new StringBuilder("# Written by the Outpost agent for this job only.\n");
      if (!providerMirrors.isEmpty()) {
        text.append("provider_installation {\n");
        for (Path mirror : providerMirrors) {
          text.append("  filesystem_mirror {\n    path = ")
              .append(hclString(mirror.toAbsolutePath().toString()))
              .append("\n  }\n");
        }
        text.append("}\n");
      }
      return text.toString();
    }

    static String hclString(String value) {
      StringBuilder s = new StringBuilder("\"");
      for (char c : value.toCharArray()) {
        switch (c) {
          case '"' -> s.append("\\\"");
          case '\\' -> s.append("\\\\");
          case '\n' -> s.append("\\n");
          default -> s.append(c);
        }
      }
      // HCL templates: "${" and "%{" start interpolation unless doubled.
      return s.append('"').toString().replace("${", "$${").replace("%{", "%%{");
    }
  }
}
