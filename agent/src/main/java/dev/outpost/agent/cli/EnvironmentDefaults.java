package dev.outpost.agent.cli;

import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Every option also reads from the environment: {@code --control-plane} from
 * {@code OUTPOST_CONTROL_PLANE}, and so on. A flag given on the command line wins.
 */
final class EnvironmentDefaults implements CommandLine.IDefaultValueProvider {
  private final Map<String, String> env;

  EnvironmentDefaults(Map<String, String> env) {
    this.env = env;
  }

  static String variableFor(OptionSpec option) {
    return "OUTPOST_" + option.longestName().replaceFirst("^--", "").replace('-', '_')
        .toUpperCase(Locale.ROOT);
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (arg instanceof OptionSpec option && option.longestName().startsWith("--")) {
      String value = env.get(variableFor(option));
      if (value != null && !value.isEmpty()) {
        return value;
      }
    }
    return arg.defaultValue();
  }
}
