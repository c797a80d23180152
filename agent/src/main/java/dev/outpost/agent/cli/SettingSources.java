package dev.outpost.agent.cli;

import dev.outpost.agent.ops.ConfigFile;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Where a setting comes from, in precedence order: a flag on the command line, then its
 * {@code OUTPOST_*} environment variable ({@code --control-plane} as
 * {@code OUTPOST_CONTROL_PLANE}), then the config file ({@code control-plane:}), then the
 * built-in default. picocli asks this for every option not given as a flag.
 */
final class SettingSources implements CommandLine.IDefaultValueProvider {
  /** Options that are not settings: they cannot come from the environment or the file. */
  private static final Set<String> NOT_SETTINGS = Set.of("--help", "--version", "--config");

  private final Map<String, String> env;
  private final ConfigFile file;

  private SettingSources(Map<String, String> env, ConfigFile file) {
    this.env = env;
    this.file = file;
  }

  /**
   * Reads the config file named by {@code --config} in {@code args}, else by
   * {@code OUTPOST_CONFIG}; its keys are checked against the settings of {@code command}.
   */
  static SettingSources of(Map<String, String> env, String[] args, CommandSpec command) {
    Path path = configPath(env, args);
    return new SettingSources(env, path == null ? null : ConfigFile.read(path, keys(command)));
  }

  private static Path configPath(Map<String, String> env, String[] args) {
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        return Path.of(args[i + 1]);
      }
      if (args[i].startsWith("--config=")) {
        return Path.of(args[i].substring("--config=".length()));
      }
    }
    String fromEnv = env.get("OUTPOST_CONFIG");
    return fromEnv == null || fromEnv.isEmpty() ? null : Path.of(fromEnv);
  }

  static Set<String> keys(CommandSpec command) {
    Set<String> keys = new TreeSet<>();
    for (OptionSpec option : command.options()) {
      if (isSetting(option)) {
        keys.add(key(option));
      }
    }
    return keys;
  }

  private static boolean isSetting(OptionSpec option) {
    return option.longestName().startsWith("--") && !NOT_SETTINGS.contains(option.longestName());
  }

  static String key(OptionSpec option) {
    return option.longestName().substring(2);
  }

  static String variableFor(OptionSpec option) {
    return "OUTPOST_" + key(option).replace('-', '_').toUpperCase(Locale.ROOT);
  }

  ConfigFile file() {
    return file;
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (arg instanceof OptionSpec option && isSetting(option)) {
      String value = env.get(variableFor(option));
      if (value != null && !value.isEmpty()) {
        return value;
      }
      if (file != null && file.get(key(option)) != null) {
        return file.get(key(option));
      }
    }
    return arg.defaultValue();
  }

  /** Where the value of an option came from, for {@code config print} and error messages. */
  String source(OptionSpec option, CommandLine.ParseResult parsed) {
    if (parsed != null && parsed.hasMatchedOption(option)) {
      return "flag";
    }
    if (isSetting(option)) {
      String value = env.get(variableFor(option));
      if (value != null && !value.isEmpty()) {
        return "env " + variableFor(option);
      }
      if (file != null && file.get(key(option)) != null) {
        return "file " + file.path();
      }
    }
    return "default";
  }
}
