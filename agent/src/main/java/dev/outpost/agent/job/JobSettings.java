package dev.outpost.agent.job;

import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.terraform.ProviderCache;
import dev.outpost.proto.v1.TerraformBinary;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/** What every job of this agent shares: where jobs live, which Terraform, which sandbox. */
public record JobSettings(Path workDir, Path terraform, TerraformBinary terraformVersion,
    Sandbox sandbox, Duration cancelGrace, Clock clock, Lifecycle lifecycle,
    Duration stageTimeout, long minFreeDiskBytes, ProviderCache providerCache,
    List<Path> providerMirrors, List<String> passEnv) {}
