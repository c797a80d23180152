package dev.outpost.agent.cli;

import dev.outpost.agent.daemon.Agent;
import dev.outpost.agent.daemon.ControlPlaneClient;
import dev.outpost.agent.daemon.Credentials;
import dev.outpost.agent.job.JobSettings;
import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.ops.ConfigException;
import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.sandbox.SandboxUnavailableException;
import dev.outpost.agent.terraform.Terraform;
import dev.outpost.agent.terraform.TerraformVersion;
import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.TerraformBinary;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

@Command(name = "run", description = "Connect to the control plane and run jobs until stopped. "
    + "Every option can also be set as an OUTPOST_* environment variable "
    + "(--control-plane as OUTPOST_CONTROL_PLANE, ...).")
final class RunCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

  @Option(names = "--control-plane", description = "Control plane address HOST:PORT.")
  String controlPlane;

  @Option(names = "--ca", description = "PEM CA bundle that issued the control plane's "
      + "certificate.")
  Path ca;

  @Option(names = "--cert", description = "PEM client certificate (chain) of this agent.")
  Path cert;

  @Option(names = "--key", description = "PEM private key of the client certificate "
      + "(PKCS#8, PKCS#1 or SEC1).")
  Path key;

  @Option(names = "--org-key-file", description = "File holding the org key (opk_...).")
  Path orgKeyFile;

  @Option(names = "--state-dir", defaultValue = "/var/lib/outpost",
      description = "Agent state: identity and spool; never visible to jobs "
          + "(default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(names = "--work-dir", defaultValue = "/var/lib/outpost-work",
      description = "Job directories (default: ${DEFAULT-VALUE}).")
  Path workDir;

  @Option(names = "--sandbox", defaultValue = "bubblewrap",
      description = "bubblewrap or none (default: ${DEFAULT-VALUE}).")
  String sandbox;

  @Option(names = "--max-jobs", defaultValue = "1", description = "Jobs run at once.")
  int maxJobs;

  @Option(names = "--terraform", defaultValue = "terraform",
      description = "Terraform or OpenTofu binary (default: ${DEFAULT-VALUE} on PATH).")
  String terraform;

  @Option(names = "--name", description = "Agent name (default: the host name).")
  String name;

  @Option(names = "--tag", split = ",", description = "Tag k=v (repeatable or comma-separated); "
      + "must be allowed by the org key.")
  Map<String, String> tags = new LinkedHashMap<>();

  @Option(names = "--connect-timeout", defaultValue = "PT30S",
      description = "How long to try the first connection before exiting with code 4 "
          + "(ISO-8601, default: ${DEFAULT-VALUE}).")
  Duration connectTimeout;

  @Option(names = "--cancel-grace", defaultValue = "PT60S",
      description = "After SIGINT, how long Terraform may take to stop before it is killed "
          + "(ISO-8601, default: ${DEFAULT-VALUE}).")
  Duration cancelGrace;

  @Override
  public Integer call() throws Exception {
    AgentConfig config = new AgentConfig(controlPlane, ca, cert, key, orgKeyFile, stateDir,
        workDir, sandbox, maxJobs, resolveTerraform(terraform), agentName(), tags,
        connectTimeout, cancelGrace);
    config.prepareDirectories();
    TerraformVersion version;
    try {
      version = Terraform.version(config.terraform());
    } catch (IOException e) {
      return fail(ExitCodes.TERRAFORM_UNAVAILABLE, "cannot run " + config.terraform()
          + " version -json: " + e.getMessage());
    }
    Sandbox box = Sandbox.create(config.sandbox(), null);
    try {
      box.probe(config.workDir());
    } catch (SandboxUnavailableException e) {
      return fail(ExitCodes.SANDBOX_UNAVAILABLE, "the " + config.sandbox()
          + " sandbox does not work on this host: " + e.getMessage()
          + " (jobs are never run unconfined unless --sandbox=none is given)");
    }
    if (box.name().equals("none")) {
      log.warn("--sandbox=none: jobs run UNCONFINED with the agent's privileges");
    }
    Credentials credentials = Credentials.load(config.caFile(), config.certFile(),
        config.keyFile(), config.orgKeyFile());
    JobSettings jobs = new JobSettings(config.workDir(), config.terraform(),
        TerraformBinary.newBuilder().setName(version.name()).setVersion(version.version()).build(),
        box, config.cancelGrace(), Clock.systemUTC());
    log.info("outpost-agent {} starting: {} {}, sandbox {}, {} slot(s), control plane {}",
        AgentMain.version(), version.name(), version.version(), box.name(), config.maxJobs(),
        config.controlPlane());
    try (ControlPlaneClient client = new ControlPlaneClient(config.controlPlane(), credentials)) {
      Agent agent = new Agent(config, client, jobs, AgentMain.version());
      // Signal handlers instead of shutdown hooks: the agent then drains and returns its own
      // exit code rather than dying with 143.
      Signal.handle(new Signal("TERM"), s -> agent.stop());
      Signal.handle(new Signal("INT"), s -> agent.stop());
      return agent.run();
    }
  }

  private String agentName() {
    if (name != null) {
      return name;
    }
    try {
      String host = InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9._-]", "-");
      return host.isEmpty() ? "agent" : host;
    } catch (IOException e) {
      return "agent";
    }
  }

  static Path resolveTerraform(String value) {
    if (value.contains("/")) {
      Path p = Path.of(value).toAbsolutePath();
      if (!Files.isExecutable(p)) {
        throw new ConfigException("--terraform " + value + " is not an executable file");
      }
      return p;
    }
    String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
    for (String dir : path.split(":")) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, value);
      if (Files.isExecutable(candidate) && !Files.isDirectory(candidate)) {
        return candidate.toAbsolutePath();
      }
    }
    throw new ConfigException("--terraform: '" + value + "' was not found on PATH; install "
        + "Terraform or OpenTofu, or give its path");
  }

  private static int fail(int code, String message) {
    System.err.println("outpost-agent: " + message);
    return code;
  }
}
