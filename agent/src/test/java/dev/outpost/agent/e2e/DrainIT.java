package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM drains: the agent takes no new job, lets the running one finish within
 * --drain-timeout, then interrupts what is left (its state delivered) and exits 0; a second
 * SIGTERM interrupts at once. The running job waits for a gate file, so nothing here depends
 * on timing.
 */
class DrainIT {
  private static final Duration WAIT = Duration.ofSeconds(90);

  @TempDir
  Path tmp;

  private StubProcess stub;
  private AgentProcess agent;
  private Path gated;

  @BeforeEach
  void start() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    gated = Files.createDirectories(tmp.resolve("gated"));
    Files.writeString(gated.resolve("main.tf"), """
        resource "terraform_data" "wait" {
          provisioner "local-exec" {
            command = "echo started; while [ ! -e release.gate ]; do sleep 0.05; done; echo released"
          }
        }
        output "done" { value = terraform_data.wait.id }
        """);
  }

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    stub.close();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  @Test
  void sigterm_letsTheRunningJobFinish_takesNoNewJob_andExitsZero() throws Exception {
    // Two slots: without the drain, the second job would be taken at once.
    agent = stub.startAgent(tmp, "agent-1", List.of("--drain-timeout", "PT5M", "--max-jobs", "2"));
    Job running = startGatedJob("ws-a");

    signalTerm();
    await("draining").atMost(WAIT).until(() -> agent.output().contains("draining: taking no new jobs"));
    Job queued = stub.submitApply(gated, "acme", "ws-b", Map.of(), Map.of());
    assertThat(agent.isAlive()).as("still draining").isTrue();
    release(running);

    assertThat(agent.awaitExit(WAIT)).contains(ExitCodes.OK);
    Job done = stub.awaitFinished(running.getId(), WAIT);
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(log(done)).contains("(local-exec): released");
    assertThat(stub.job(queued.getId()).getStatus()).as("never taken while draining")
        .isEqualTo(JobStatus.JOB_STATUS_QUEUED);
  }

  @Test
  void drainTimeout_interruptsTheRunningJob_deliversItsState_andExitsZero() throws Exception {
    agent = stub.startAgent(tmp, "agent-1", List.of("--drain-timeout", "PT1S"));
    Job running = startGatedJob("ws-a");

    signalTerm();

    assertThat(agent.awaitExit(WAIT)).contains(ExitCodes.OK);
    Job done = stub.awaitFinished(running.getId(), WAIT);
    assertThat(done.getStatus()).isIn(JobStatus.JOB_STATUS_CANCELLED,
        JobStatus.JOB_STATUS_INTERRUPTED);
    assertThat(done.getErrorMessage()).contains("drain timeout of PT1S passed");
    assertThat(done.getState().getSize()).as("the state Terraform wrote was delivered")
        .isPositive();
  }

  @Test
  void secondSigterm_interruptsAtOnce() throws Exception {
    agent = stub.startAgent(tmp, "agent-1", List.of("--drain-timeout", "PT1H"));
    Job running = startGatedJob("ws-a");

    signalTerm();
    await("draining").atMost(WAIT).until(() -> agent.output().contains("draining: taking no new jobs"));
    signalTerm();

    assertThat(agent.awaitExit(WAIT)).contains(ExitCodes.OK);
    Job done = stub.awaitFinished(running.getId(), WAIT);
    assertThat(done.getStatus()).isIn(JobStatus.JOB_STATUS_CANCELLED,
        JobStatus.JOB_STATUS_INTERRUPTED);
    assertThat(agent.output()).contains("asked again to stop: interrupting 1 running job(s) now");
  }

  private Job startGatedJob(String workspace) throws Exception {
    Job job = stub.submitApply(gated, "acme", workspace, Map.of(), Map.of());
    await("job started").atMost(WAIT).until(() -> log(job).contains("(local-exec): started"));
    return job;
  }

  private void release(Job job) throws IOException {
    Files.writeString(tmp.resolve("work").resolve(job.getId()).resolve("source/release.gate"), "");
  }

  private void signalTerm() throws Exception {
    Process kill = new ProcessBuilder("kill", "-TERM", Long.toString(agent.pid())).start();
    assertThat(kill.waitFor()).isZero();
  }

  private String log(Job job) {
    return stub.logText(job.getId());
  }
}
