package dev.outpost.stub.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "pki", description = "Create the control plane's CA and certificates.",
    subcommands = {PkiCommand.Init.class, PkiCommand.Client.class})
final class PkiCommand {
  @Command(name = "init", description = "Create a CA and a server certificate in <data-dir>/pki.")
  static final class Init implements Callable<Integer> {
    @Option(names = "--data-dir", defaultValue = "${env:OUTPOST_STUB_DATA_DIR:-outpost-stub-data}")
    Path dataDir;

    @Option(names = "--host", description = "DNS name or IP of the server certificate "
        + "(repeatable; default: localhost and 127.0.0.1).")
    List<String> hosts = List.of("localhost", "127.0.0.1");

    @Override
    public Integer call() throws IOException {
      DataDir dir = new DataDir(dataDir);
      try {
        dir.pki().init("Outpost agent CA", hosts);
      } catch (IOException e) {
        throw new CliException(CliException.Kind.CONFIG, e.getMessage());
      }
      dir.adminToken();
      System.out.println("created CA " + dir.pki().caCert() + " and server certificate "
          + dir.pki().serverCert() + " for " + String.join(", ", hosts));
      return 0;
    }
  }

  @Command(name = "client", description = "Issue an agent client certificate bound to an org.")
  static final class Client implements Callable<Integer> {
    @Option(names = "--data-dir", defaultValue = "${env:OUTPOST_STUB_DATA_DIR:-outpost-stub-data}")
    Path dataDir;

    @Option(names = "--org", required = true)
    String org;

    @Option(names = "--name", required = true, description = "Agent name.")
    String name;

    @Option(names = "--trust-domain", defaultValue = "outpost.local")
    String trustDomain;

    @Option(names = "--validity", defaultValue = "PT24H",
        description = "ISO-8601 duration (default: ${DEFAULT-VALUE}).")
    Duration validity;

    @Override
    public Integer call() throws IOException {
      DataDir dir = new DataDir(dataDir);
      if (!dir.pki().exists()) {
        throw new CliException(CliException.Kind.CONFIG, "no CA in " + dir.pki().dir()
            + "; run: outpost-controlplane-stub pki init --data-dir " + dataDir);
      }
      if (!name.matches("[A-Za-z0-9._-]{1,64}") || !org.matches("[a-z0-9][a-z0-9-]{0,62}")) {
        throw new CliException(CliException.Kind.CONFIG, "invalid --org or --name");
      }
      X509Certificate cert = dir.pki().issueClient(trustDomain, org, name, validity);
      System.out.println(dir.pki().clientCert(name));
      System.out.println(dir.pki().clientKey(name));
      System.err.println("issued client certificate serial " + cert.getSerialNumber().toString(16)
          + " for agent " + name + " of org " + org + ", valid until " + cert.getNotAfter());
      return 0;
    }
  }
}
