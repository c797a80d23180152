package dev.outpost.agent.sandbox;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What the operator configured for every job's sandbox, on top of what each command needs.
 *
 * @param grantedFiles files or directories every job may read, bound read-only at their own
 *     path (a cloud credentials file, a web-identity token, an SSH key and known_hosts)
 * @param hiddenPaths never visible to a job, even under a bound system directory: the agent's
 *     state and work directories, its key, certificate and config files, /etc/outpost
 * @param limits resource limits of each Terraform command
 */
public record Confinement(List<Path> grantedFiles, List<Path> hiddenPaths, SandboxLimits limits) {
  public static final Confinement NONE = new Confinement(List.of(), List.of(), SandboxLimits.NONE);

  public Confinement {
    grantedFiles = List.copyOf(grantedFiles);
    hiddenPaths = List.copyOf(hiddenPaths);
    Objects.requireNonNull(limits, "limits");
  }
}
