package dev.outpost.agent.cli;

import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.ops.AgentMetrics;
import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.sandbox.SandboxUnavailableException;
import dev.outpost.agent.terraform.Terraform;
import dev.outpost.agent.terraform.TerraformVersion;
import dev.outpost.proto.ExitCodes;
import java.io.IOException;

/** What must hold on this host before the agent may take jobs: Terraform and the sandbox. */
final class Preflight {
  private Preflight() {}

  /** The local checks' findings: a failure (with its exit code) or what was found. */
  record Local(TerraformVersion terraform, Sandbox sandbox, int failureCode, String failure) {
    static Local failed(TerraformVersion terraform, int code, String message) {
      return new Local(terraform, null, code, message);
    }
  }

  /** Terraform's version (and that it is supported), then the sandbox probe. */
  static Local local(AgentConfig config) throws InterruptedException {
    TerraformVersion version;
    try {
      version = Terraform.version(config.terraform());
    } catch (IOException | RuntimeException e) {
      // Not Terraform at all (its version -json is not Terraform's JSON) counts as missing.
      return Local.failed(null, ExitCodes.TERRAFORM_UNAVAILABLE, "cannot run "
          + config.terraform() + " version -json: " + e.getMessage());
    }
    String unsupported = SupportedVersions.check(version);
    if (unsupported != null) {
      return Local.failed(version, ExitCodes.TERRAFORM_UNAVAILABLE, unsupported);
    }
    Sandbox box = Sandbox.create(config.sandbox(), null);
    try {
      box.probe(config.workDir());
    } catch (SandboxUnavailableException e) {
      AgentMetrics.sandboxFailure("probe");
      return Local.failed(version, ExitCodes.SANDBOX_UNAVAILABLE, "the " + config.sandbox()
          + " sandbox does not work on this host: " + e.getMessage()
          + " (jobs are never run unconfined unless --sandbox=none is given)");
    }
    return new Local(version, box, ExitCodes.OK, null);
  }
}
