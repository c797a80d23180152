package dev.outpost.agent.cli;

import dev.outpost.agent.ops.ConfigException;
import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.ProtocolVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.OptionSpec;

/** {@code outpost-agent}: the provisioner agent daemon. */
@Command(name = "outpost-agent", mixinStandardHelpOptions = true,
    // --help and --version on every subcommand too (`outpost-agent run --help`).
    scope = CommandLine.ScopeType.INHERIT, versionProvider = AgentMain.Version.class,
    description = "Runs Terraform jobs for an Outpost control plane, sandboxed, in your network.",
    subcommands = {RunCommand.class, CheckCommand.class, ConfigCommand.class,
        EnrollCommand.class})
public final class AgentMain {
  public static void main(String[] args) {
    System.exit(run(System.getenv(), args));
  }

  static int run(java.util.Map<String, String> env, String... args) {
    CommandLine cli = new CommandLine(new AgentMain());
    SettingSources sources;
    try {
      sources = SettingSources.of(env, args, cli.getSubcommands().get("run").getCommandSpec());
    } catch (ConfigException e) {
      cli.getErr().println("outpost-agent: " + e.getMessage());
      return ExitCodes.CONFIG;
    }
    cli.setDefaultValueProvider(sources);
    cli.setParameterExceptionHandler((e, params) -> {
      CommandLine command = e.getCommandLine();
      String message = e.getMessage();
      // A bad value that came from the environment or the config file says where it is.
      if (e.getArgSpec() instanceof OptionSpec option) {
        String source = sources.source(option, command.getParseResult());
        if (!source.equals("flag") && !source.equals("default")) {
          message += " (from " + source + ")";
        }
      }
      command.getErr().println("outpost-agent: " + message);
      command.getErr().println("Run 'outpost-agent " + command.getCommandName()
          + " --help' for the settings and what they allow.");
      return ExitCodes.CONFIG;
    });
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      if (e instanceof ConfigException c) {
        commandLine.getErr().println("outpost-agent: " + c.getMessage());
        return ExitCodes.CONFIG;
      }
      throw e;
    });
    return cli.execute(args);
  }

  static String version() {
    String v = AgentMain.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"outpost-agent " + version() + " (protocol "
          + ProtocolVersion.current() + ")"};
    }
  }
}
