package dev.outpost.agent.cli;

import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.ProtocolVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code outpost-agent}: the provisioner agent daemon. */
@Command(name = "outpost-agent", mixinStandardHelpOptions = true,
    versionProvider = AgentMain.Version.class,
    description = "Runs Terraform jobs for an Outpost control plane, sandboxed, in your network.",
    subcommands = {RunCommand.class, EnrollCommand.class})
public final class AgentMain {
  public static void main(String[] args) {
    System.exit(run(System.getenv(), args));
  }

  static int run(java.util.Map<String, String> env, String... args) {
    CommandLine cli = new CommandLine(new AgentMain());
    cli.setDefaultValueProvider(new EnvironmentDefaults(env));
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      if (e instanceof dev.outpost.agent.ops.ConfigException c) {
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
