package dev.outpost.stub.cli;

import dev.outpost.stub.pki.IssuerBindings;
import dev.outpost.stub.server.ControlPlane;
import dev.outpost.stub.server.StubServer;
import dev.outpost.stub.store.MemoryStore;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

@Command(name = "serve", description = "Run the control plane until SIGTERM or SIGINT.")
final class ServeCommand implements Callable<Integer> {
  @Option(names = "--data-dir", defaultValue = "${env:OUTPOST_STUB_DATA_DIR:-outpost-stub-data}",
      description = "Holds pki/, admin.token, endpoints and the database (default: "
          + "${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(names = "--store", defaultValue = "database",
      description = "database: orgs, keys, workspaces, jobs, logs and results survive a restart "
          + "(an embedded H2 file in --data-dir); memory: everything is lost when the stub "
          + "stops (default: ${DEFAULT-VALUE}).")
  String store;

  @Option(names = "--listen", defaultValue = "127.0.0.1:8443",
      description = "Agent-facing TLS address HOST:PORT; port 0 picks a free one "
          + "(default: ${DEFAULT-VALUE}).")
  String listen;

  @Option(names = "--admin-listen", defaultValue = "127.0.0.1:8444",
      description = "Admin address HOST:PORT, loopback by default (default: ${DEFAULT-VALUE}).")
  String adminListen;

  @Option(names = "--trust-domain", defaultValue = "outpost.local")
  String trustDomain;

  @Option(names = "--lease-ttl", defaultValue = "PT60S", description = "ISO-8601 duration.")
  Duration leaseTtl;

  @Option(names = "--heartbeat-interval", defaultValue = "PT5S", description = "ISO-8601 duration.")
  Duration heartbeatInterval;

  @Option(names = "--max-payload-bytes", defaultValue = "1073741824",
      description = "Largest archive, state or plan accepted (default: 1 GiB).")
  long maxPayloadBytes;

  @Option(names = "--cert-lifetime", defaultValue = "PT24H", description = "Lifetime of client "
      + "certificates signed at enrollment, ISO-8601 duration (default: ${DEFAULT-VALUE}).")
  Duration certLifetime;

  @Option(names = "--issuer-org", paramLabel = "CAFILE=ORG", description = "Bind an operator CA "
      + "(PEM file) to one organization: its certificates are trusted, and one without the "
      + "Outpost URI SAN belongs to ORG, with the agent name from its CN. Repeatable.")
  List<String> issuerOrgs = new ArrayList<>();

  @Option(names = "--tls-min", defaultValue = "1.3", description = "Lowest TLS version accepted "
      + "from agents: 1.3 or 1.2 (default: ${DEFAULT-VALUE}).")
  String tlsMin;

  @Override
  public Integer call() throws Exception {
    DataDir dir = new DataDir(dataDir);
    if (!dir.pki().exists() || !Files.exists(dir.pki().serverCert())) {
      throw new CliException(CliException.Kind.CONFIG, "no PKI in " + dir.pki().dir()
          + "; create one with: outpost-controlplane-stub pki init --data-dir " + dataDir);
    }
    StubServer.Config config;
    try {
      config = StubServer.Config.of(address("--listen", listen),
          address("--admin-listen", adminListen), dir.pki(), dir.adminToken(),
          new ControlPlane.Settings(trustDomain, heartbeatInterval, leaseTtl, certLifetime),
          maxPayloadBytes).withIssuerOrgs(bindings()).withTlsMin(tlsMin);
    } catch (IllegalArgumentException e) {
      throw new CliException(CliException.Kind.CONFIG, e.getMessage());
    }
    StubServer server;
    dev.outpost.stub.store.Store opened = null;
    try {
      opened = openStore();
      server = StubServer.start(config, opened, Clock.systemUTC());
    } catch (IllegalArgumentException | IllegalStateException | IOException e) {
      if (opened != null) {
        opened.close();
      }
      throw new CliException(CliException.Kind.CONFIG, e instanceof IOException
          ? "cannot start: " + e.getMessage() : e.getMessage());
    }
    String agent = hostPort(server.agentAddress());
    String admin = hostPort(server.adminAddress());
    dir.writeEndpoints(agent, admin);
    CountDownLatch stopRequested = new CountDownLatch(1);
    // Signal handlers rather than a shutdown hook: a stop on SIGTERM/SIGINT is a normal end
    // (exit 0), not death by signal (143).
    Signal.handle(new Signal("TERM"), s -> stopRequested.countDown());
    Signal.handle(new Signal("INT"), s -> stopRequested.countDown());
    System.out.println("outpost control-plane stub: agents on " + agent + ", admin on " + admin);
    System.out.flush();
    stopRequested.await();
    server.close();
    opened.close();
    Files.deleteIfExists(dir.endpointsFile());
    return 0;
  }

  private List<IssuerBindings.Binding> bindings() {
    List<IssuerBindings.Binding> bindings = new ArrayList<>();
    // A list, not a picocli map: a map would silently keep only the last of two bindings of
    // one CA file, and an issuer bound to two orgs must be an error.
    for (String setting : issuerOrgs) {
      int eq = setting.lastIndexOf('=');
      String org = eq < 0 ? "" : setting.substring(eq + 1);
      Path file = Path.of(eq < 0 ? setting : setting.substring(0, eq));
      if (!org.matches("[a-z0-9][a-z0-9-]{0,62}")) {
        throw new CliException(CliException.Kind.CONFIG, "--issuer-org " + setting
            + ": expected CAFILE=ORG with ORG an org name (1-63 lowercase letters, digits, '-')");
      }
      if (!Files.isReadable(file)) {
        throw new CliException(CliException.Kind.CONFIG, "--issuer-org " + setting
            + ": the CA file does not exist or is not readable");
      }
      bindings.add(new IssuerBindings.Binding(file, org));
    }
    return bindings;
  }

  static InetSocketAddress address(String option, String value) {
    int colon = value.lastIndexOf(':');
    try {
      if (colon <= 0) {
        throw new NumberFormatException();
      }
      int port = Integer.parseInt(value.substring(colon + 1));
      if (port < 0 || port > 65535) {
        throw new NumberFormatException();
      }
      return new InetSocketAddress(value.substring(0, colon).replaceAll("^\\[|\\]$", ""), port);
    } catch (NumberFormatException e) {
      throw new CliException(CliException.Kind.CONFIG, option + " '" + value
          + "' is not HOST:PORT with a port from 0 to 65535");
    }
  }

  static String hostPort(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  private dev.outpost.stub.store.Store openStore() {
    return switch (store) {
      case "database" -> dev.outpost.stub.store.DatabaseStore.open(dataDir);
      case "memory" -> new MemoryStore();
      default -> throw new IllegalArgumentException("--store '" + store
          + "' is invalid: use database or memory");
    };
  }
}
