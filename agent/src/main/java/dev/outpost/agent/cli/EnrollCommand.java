package dev.outpost.agent.cli;

import dev.outpost.agent.daemon.ControlPlaneClient;
import dev.outpost.agent.daemon.Credentials;
import dev.outpost.agent.daemon.Enroller;
import dev.outpost.agent.daemon.Failure;
import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.ops.ConfigException;
import dev.outpost.proto.ExitCodes;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "enroll", description = "Generate a private key in --state-dir and obtain a "
    + "client certificate for it with the org key, then exit. `run` does this by itself on "
    + "first start when it has no certificate.")
final class EnrollCommand implements Callable<Integer> {
  @Mixin
  AgentOptions options = new AgentOptions();

  @Override
  public Integer call() throws Exception {
    AgentConfig config = options.config();
    if (!config.enrolls()) {
      throw new ConfigException("enroll is for agents without --cert and --key; those given "
          + "are used as they are");
    }
    config.prepareDirectories();
    Credentials credentials = RunCommand.credentials(config);
    try (ControlPlaneClient client = new ControlPlaneClient(config.controlPlane(), credentials)) {
      System.out.println("enrolled agent " + config.agentName() + ": "
          + new Enroller(client, credentials, config.agentName()).enrollAndDescribe());
      return ExitCodes.OK;
    } catch (StatusRuntimeException e) {
      Failure f = Failure.of(e);
      return RunCommand.fail(f.kind().exitCode,
          "enrollment failed: " + f.message());
    }
  }
}
