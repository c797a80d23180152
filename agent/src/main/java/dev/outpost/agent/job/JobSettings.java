package dev.outpost.agent.job;

import dev.outpost.agent.logs.LogReaders;
import dev.outpost.agent.sandbox.Confinement;
import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.terraform.ProviderCache;
import dev.outpost.proto.v1.TerraformBinary;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * What every job of this agent shares: where jobs live, which Terraform, which sandbox.
 *
 * @param confinement granted files, hidden paths and resource limits of every command
 * @param networkAllowed the operator's ceiling: false runs every job without network, whatever
 *     the job asks for
 * @param diskBudgetBytes most a job directory may use while the job runs; 0 for no budget
 * @param stateDir the agent's state directory: each accepted job's record and spool live there
 * @param logLimitBytes most log (bytes of lines) one job may produce; 0 for no limit
 * @param spoolBudgetBytes most the job records in the state directory may hold; 0 for none
 * @param logReaders the threads that follow commands' output files and the class of the log
 *     senders (--log-priority)
 */
public record JobSettings(Path workDir, Path terraform, TerraformBinary terraformVersion,
    Sandbox sandbox, Duration cancelGrace, Clock clock, Lifecycle lifecycle,
    Duration stageTimeout, long minFreeDiskBytes, ProviderCache providerCache,
    List<Path> providerMirrors, List<String> passEnv, Confinement confinement,
    boolean networkAllowed, long diskBudgetBytes, Path stateDir, long logLimitBytes,
    long spoolBudgetBytes, LogReaders logReaders) {}
