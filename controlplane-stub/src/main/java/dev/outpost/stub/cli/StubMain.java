package dev.outpost.stub.cli;

import dev.outpost.proto.ExitCodes;
import io.grpc.StatusRuntimeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code outpost-controlplane-stub}: the reference control plane and its admin commands. */
@Command(name = "outpost-controlplane-stub", mixinStandardHelpOptions = true,
    versionProvider = StubMain.Version.class,
    description = "The Outpost reference control plane: serves agents over mTLS gRPC and "
        + "offers admin commands for orgs, keys and jobs.",
    subcommands = {ServeCommand.class, PkiCommand.class, OrgCommand.class, KeyCommand.class,
        CertCommand.class, JobCommand.class, AuditCommand.class, DemoCommand.class})
public final class StubMain {
  public static void main(String[] args) {
    System.exit(run(args));
  }

  public static int run(String... args) {
    CommandLine cli = new CommandLine(new StubMain());
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      if (e instanceof CliException c) {
        commandLine.getErr().println("error: " + c.getMessage());
        return c.kind.exitCode;
      }
      if (e instanceof StatusRuntimeException s) {
        CliException c = AdminOptions.failure(s);
        commandLine.getErr().println("error: " + c.getMessage());
        return c.kind.exitCode;
      }
      throw e;
    });
    // picocli's own usage errors exit with 2, which is ExitCodes.CONFIG.
    return cli.execute(args);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = StubMain.class.getPackage().getImplementationVersion();
      return new String[] {"outpost-controlplane-stub " + (v == null ? "dev" : v)
          + " (protocol " + dev.outpost.proto.ProtocolVersion.current() + ")"};
    }
  }

  static {
    // Keep the codes in one place; this guards the assumption above.
    if (CommandLine.ExitCode.USAGE != ExitCodes.CONFIG) {
      throw new AssertionError("picocli usage exit code differs from ExitCodes.CONFIG");
    }
  }
}
