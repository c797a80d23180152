package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Limits the agent enforces around a job: stage timeout, free disk, several jobs at once. */
class JobLimitsIT {
  private static final JobType APPLY =
      JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build();

  @TempDir
  Path tmp;

  private StubProcess stub;
  private AgentProcess agent;
  private Path keyFile;
  private TestPki.Client client;

  @BeforeEach
  void startStub() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    keyFile = Files.writeString(tmp.resolve("org.key"), stub.createKey("acme", Map.of()));
    client = stub.pki.client("acme", "agent-1");
  }

  private void startAgent(String... flags) throws IOException {
    List<String> extra = new ArrayList<>(List.of("--name", "agent-1"));
    extra.addAll(List.of(flags));
    agent = AgentProcess.start(new AgentProcess.Options(stub.agentTarget(), stub.pki.ca(),
        client.cert(), client.key(), keyFile, tmp.resolve("state"), tmp.resolve("work"), extra),
        tmp.resolve("agent.log"));
  }

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    stub.close();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  private Path config(String name, String hcl) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve(name));
    Files.writeString(dir.resolve("main.tf"), hcl);
    return dir;
  }

  @Test
  void logLimit_warnsFirst_thenStopsTheJob_andEveryLineWrittenIsDelivered() throws Exception {
    startAgent("--job-log-limit", "256KiB");
    Path chatty = config("chatty", """
        resource "terraform_data" "chatty" {
          provisioner "local-exec" {
            command = <<-EOT
              i=1
              while :; do
                echo "line $i of a job that never stops talking"; i=$((i+1))
                if [ $((i % 100)) -eq 0 ]; then sleep 0.01; fi
              done
            EOT
          }
        }
        """);
    Job job = stub.submit(chatty, "acme", "chatty", APPLY, Map.of(), Map.of());
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(90));
    assertThat(done.getStatus()).isEqualTo(JobStatus.JOB_STATUS_FAILED);
    assertThat(done.getErrorMessage()).contains("log reached its limit of 256KiB (--job-log-limit)");
    String log = stub.logText(job.getId());
    assertThat(log).contains("of its limit of 256KiB (--job-log-limit); at the limit the job is "
        + "stopped");
    List<String> lines = ApplyEndToEndIT.provisionerLines(stub.logs(job.getId()));
    assertThat(lines).hasSizeGreaterThan(100);
    for (int i = 0; i < lines.size(); i++) {
      assertThat(lines.get(i)).as("no gap, no double").isEqualTo("line " + (i + 1)
          + " of a job that never stops talking");
    }
  }

  @Test
  void fullSpool_refusesTheJobBeforeTerraformRuns_sayingWhy() throws Exception {
    // A result the control plane refused earlier, kept aside, fills the budget.
    Path aside = Files.createDirectories(tmp.resolve("state/refused/job-old"));
    Files.write(aside.resolve("STATE"), new byte[1 << 20]);
    startAgent("--spool-budget", "32MiB");
    Path hello = config("hello", "output \"x\" {\n  value = 1\n}\n");
    Job job = stub.submit(hello, "acme", "hello", APPLY, Map.of(), Map.of());
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(60));
    assertThat(done.getStatus()).isEqualTo(JobStatus.JOB_STATUS_FAILED);
    assertThat(done.getErrorMessage()).contains("hold 1 MiB of their 32MiB budget (--spool-budget)")
        .contains("the job was not run");
    assertThat(stub.logText(job.getId())).doesNotContain("Initializing");
  }

  @Test
  void stageTimeout_stopsTerraform_andFailsTheJobSayingSo() throws Exception {
    startAgent("--stage-timeout", "PT3S");
    Path slow = config("slow", """
        resource "terraform_data" "slow" {
          provisioner "local-exec" {
            command = "sleep 120"
          }
        }
        """);
    Job job = stub.submit(slow, "acme", "slow", APPLY, Map.of(), Map.of());
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(60));
    assertThat(done.getStatus()).isEqualTo(JobStatus.JOB_STATUS_FAILED);
    assertThat(done.getErrorMessage()).contains("terraform apply exceeded the stage timeout of PT3S");
    assertThat(Processes.withMarker("sleep 120")).isEmpty();
  }

  @Test
  void tooLittleFreeDisk_failsTheJobBeforeItStarts() throws Exception {
    startAgent("--min-free-disk", Long.toString(Long.MAX_VALUE / 2));
    Job job = stub.submitApply(Jars.repoRoot().resolve("examples/hello"), "acme", "ws",
        Map.of(), Map.of("api_token", "t0ken-1234"));
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(60));
    assertThat(done.getStatus()).isEqualTo(JobStatus.JOB_STATUS_FAILED);
    assertThat(done.getErrorMessage()).contains("MiB are free in the work directory",
        "--min-free-disk");
    assertThat(tmp.resolve("work").resolve(job.getId())).doesNotExist();
  }

  @Test
  void fourJobsAtOnce_eachInItsOwnDirectory() throws Exception {
    startAgent("--max-jobs", "4");
    Path gated = config("gated", """
        variable "n" { type = string }
        resource "terraform_data" "wait" {
          input = var.n
          provisioner "local-exec" {
            command = "echo started ${var.n}; while [ ! -e release.gate ]; do sleep 0.05; done"
          }
        }
        output "n" { value = terraform_data.wait.output }
        """);
    List<Job> jobs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      jobs.add(stub.submit(gated, "acme", "ws-" + i, APPLY, Map.of("n", "job" + i), Map.of()));
    }
    // All four are running at the same time: each has printed, none can finish yet.
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(90)).until(() -> jobs.stream()
        .allMatch(j -> stub.logs(j.getId()).stream()
            .anyMatch(e -> e.getMessage().contains("(local-exec): started"))));
    for (Job j : jobs) {
      Files.writeString(tmp.resolve("work").resolve(j.getId()).resolve("source/release.gate"), "");
    }
    for (int i = 0; i < 4; i++) {
      Job done = stub.awaitFinished(jobs.get(i).getId(), Duration.ofSeconds(60));
      assertThat(done.getStatus()).as(done.getErrorMessage())
          .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
      assertThat(done.getOutputs(0).getValueJson()).isEqualTo("\"job" + i + "\"");
    }
  }
}
