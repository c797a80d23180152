package dev.outpost.agent.cli;

import dev.outpost.agent.daemon.Agent;
import dev.outpost.agent.daemon.ControlPlaneClient;
import dev.outpost.agent.daemon.Credentials;
import dev.outpost.agent.daemon.IdentitySource;
import dev.outpost.agent.job.JobSettings;
import dev.outpost.agent.job.Lifecycle;
import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.sandbox.SandboxUnavailableException;
import dev.outpost.agent.terraform.Terraform;
import dev.outpost.agent.terraform.TerraformVersion;
import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.TerraformBinary;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import dev.outpost.agent.terraform.ProviderCache;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import sun.misc.Signal;

@Command(name = "run", description = "Connect to the control plane and run jobs until stopped. "
    + "Every option can also be set as an OUTPOST_* environment variable "
    + "(--control-plane as OUTPOST_CONTROL_PLANE, ...).")
final class RunCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

  @Mixin
  AgentOptions options = new AgentOptions();

  @Override
  public Integer call() throws Exception {
    AgentConfig config = options.config();
    config.prepareDirectories();
    TerraformVersion version;
    try {
      version = Terraform.version(config.terraform());
    } catch (IOException e) {
      return fail(ExitCodes.TERRAFORM_UNAVAILABLE, "cannot run " + config.terraform()
          + " version -json: " + e.getMessage());
    }
    String unsupported = SupportedVersions.check(version);
    if (unsupported != null) {
      return fail(ExitCodes.TERRAFORM_UNAVAILABLE, unsupported);
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
    } else {
      log.info("sandbox {}: {}; network ceiling {}; {} granted file(s)", box.name(),
          box.limitsInForce(config.limits()).summary(), config.networkCeiling(),
          config.grantFiles().size());
    }
    Credentials credentials = credentials(config);
    JobSettings jobs = new JobSettings(config.workDir(), config.terraform(),
        TerraformBinary.newBuilder().setName(version.name()).setVersion(version.version()).build(),
        box, config.cancelGrace(), Clock.systemUTC(), new Lifecycle(), config.stageTimeout(),
        config.minFreeDiskBytes(), new ProviderCache(config.providerCache(),
            config.providerCacheMaxBytes(), Duration.ofDays(30), Clock.systemUTC()),
        config.providerMirrors(), config.passEnv(), config.confinement(),
        config.networkAllowed(), config.jobDiskBudgetBytes(), config.stateDir(),
        config.jobLogLimitBytes(), config.spoolBudgetBytes());
    log.info("outpost-agent {} starting: {} {}, sandbox {}, {} slot(s), control plane {}",
        AgentMain.version(), version.name(), version.version(), box.name(), config.maxJobs(),
        config.controlPlane());
    try (ControlPlaneClient client = new ControlPlaneClient(config.controlPlane(), credentials)) {
      Agent agent = new Agent(config, client, credentials, jobs, AgentMain.version());
      WorkDirectory.reportLeftovers(config.workDir(), agent.resumeJobs());
      // Signal handlers instead of shutdown hooks: the agent then drains and returns its own
      // exit code rather than dying with 143.
      // SIGTERM drains (a second one, or SIGINT, interrupts the running jobs at once).
      Signal.handle(new Signal("TERM"), s -> agent.drain(config.drainTimeout()));
      Signal.handle(new Signal("INT"), s -> agent.stop());
      // SIGHUP: credentials and the logging configuration are read again; the JVM lives on.
      Signal.handle(new Signal("HUP"), s -> {
        reloadLogging();
        agent.reload();
      });
      return agent.run();
    }
  }

  /**
   * Reads the logging configuration again (the built-in one, or the file named by
   * {@code -Dlogback.configurationFile}, e.g. through JAVA_OPTS): a changed level applies.
   */
  static void reloadLogging() {
    if (org.slf4j.LoggerFactory.getILoggerFactory()
        instanceof ch.qos.logback.classic.LoggerContext context) {
      context.reset();
      try {
        new ch.qos.logback.classic.util.ContextInitializer(context).autoConfig();
        log.info("logging configuration read again");
      } catch (ch.qos.logback.core.joran.spi.JoranException e) {
        System.err.println("outpost-agent: cannot read the logging configuration again: "
            + e.getMessage());
      }
    }
  }

  static Credentials credentials(AgentConfig config) {
    IdentitySource source = config.enrolls()
        ? IdentitySource.Enrolled.in(config.stateDir())
        : new IdentitySource.OperatorFiles(config.certFile(), config.keyFile(),
            config.keyPassphraseFile());
    return Credentials.create(config.caFile(), config.orgKeyFile(), source);
  }

  static int fail(int code, String message) {
    System.err.println("outpost-agent: " + message);
    return code;
  }
}
