package dev.outpost.agent.cli;

import dev.outpost.agent.ops.ConfigException;
import dev.outpost.proto.ExitCodes;
import java.io.PrintWriter;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Spec;

@Command(name = "config", description = "Show the agent's configuration.",
    subcommands = ConfigCommand.Print.class)
final class ConfigCommand {

  @Command(name = "print", description = "Print the effective configuration of `run` with the "
      + "same flags, environment and config file: every setting, its value and where it came "
      + "from (flag, env OUTPOST_..., file PATH, default), then whether it is valid (exit 2 if "
      + "not). Secrets are never printed: keys are files and only their paths are shown, and "
      + "anything that looks like an org key is masked.")
  static final class Print implements Callable<Integer> {
    /** An org key (opk_...) pasted where it does not belong is masked wherever it appears. */
    private static final Pattern ORG_KEY = Pattern.compile("opk_[A-Za-z0-9_-]+");

    @Mixin
    AgentOptions options = new AgentOptions();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      SettingSources sources = (SettingSources) spec.commandLine().getDefaultValueProvider();
      CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
      out.println("# outpost-agent configuration: flag > env OUTPOST_* > file > default"
          + (sources.file() == null ? " (no --config file)" : " (file "
              + sources.file().path() + ")"));
      int width = spec.options().stream().mapToInt(o -> SettingSources.key(o).length()).max()
          .orElse(20);
      for (OptionSpec option : spec.options()) {
        String key = SettingSources.key(option);
        if (key.equals("help") || key.equals("version") || key.equals("config")) {
          continue;
        }
        Object value = option.getValue();
        boolean size = java.util.Arrays.stream(option.converters())
            .anyMatch(c -> c instanceof AgentOptions.SizeConverter);
        out.printf("%-" + width + "s = %s  # %s%n", key,
            mask(size ? dev.outpost.agent.ops.ByteSize.format((Long) value) : text(value)),
            sources.source(option, parsed));
      }
      try {
        options.config();
        out.println("# valid");
        return ExitCodes.OK;
      } catch (ConfigException e) {
        out.println("# INVALID: " + mask(e.getMessage()));
        spec.commandLine().getErr().println("outpost-agent: " + mask(e.getMessage()));
        return ExitCodes.CONFIG;
      }
    }

    static String mask(String text) {
      return ORG_KEY.matcher(text).replaceAll("opk_****");
    }

    private static String text(Object value) {
      if (value == null) {
        return "";
      }
      if (value instanceof Collection<?> c) {
        return c.stream().map(String::valueOf).collect(Collectors.joining(","));
      }
      if (value instanceof Map<?, ?> m) {
        return m.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
            .collect(Collectors.joining(","));
      }
      return String.valueOf(value);
    }
  }
}
