package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.agent.terraform.ProviderMirrors;
import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.CancelJobRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.PlanJob;
import dev.outpost.proto.v1.TemplateImport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * examples/aws-vm through stub + agent + sandbox with the real AWS provider, installed from a
 * filesystem mirror through the per-job CLI config. Every AWS endpoint is an unused loopback
 * port: nothing leaves the machine. Skipped, visibly, where the mirror is absent.
 */
class AwsExampleIT {
  private static final Path AWS = Jars.repoRoot().resolve("examples/aws-vm");
  private static final Map<String, String> DUMMY_CREDENTIALS = Map.of(
      "AWS_ACCESS_KEY_ID", "AKIAOUTPOSTTESTONLY00", "AWS_SECRET_ACCESS_KEY", "outpost-test-secret",
      "AWS_EC2_METADATA_DISABLED", "true");

  @TempDir
  Path tmp;

  private StubProcess stub;
  private AgentProcess agent;

  @BeforeEach
  void start() throws IOException {
    Path mirror = ProviderMirrors.aws().orElse(null);
    if (mirror == null) {
      System.out.println("SKIPPED: AwsExampleIT: no AWS provider mirror on this machine "
          + "(set OUTPOST_TEST_PROVIDER_MIRROR)");
    }
    Assumptions.assumeTrue(mirror != null, "no AWS provider mirror on this machine");
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    agent = stub.startAgent(tmp, "agent-1", List.of("--provider-mirror", mirror.toString(),
        "--pass-env", String.join(",", DUMMY_CREDENTIALS.keySet())), DUMMY_CREDENTIALS);
  }

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (stub != null) {
      stub.close();
    }
    assertThat(Processes.withMarker("terraform-provider-aws")).as("provider processes").isEmpty();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  private Job run(JobType type) throws IOException {
    Job job = stub.submit(AWS, "acme", "aws", type, Map.of(), Map.of());
    return stub.awaitFinished(job.getId(), Duration.ofSeconds(180));
  }

  @Test
  void templateImport_andPlan_succeedOffline_withTheProviderFromTheMirror() throws Exception {
    Job imported = run(JobType.newBuilder().setTemplateImport(TemplateImport.getDefaultInstance())
        .build());
    assertThat(imported.getStatus()).as(imported.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(imported.getTemplate().getVariablesList()).extracting(v -> v.getName())
        .contains("region", "cidr", "instance_type", "ami");
    assertThat(imported.getTemplate().getPlannedResourcesList()).extracting(r -> r.getType())
        .containsExactlyInAnyOrder("aws_vpc", "aws_subnet", "aws_security_group", "aws_instance");

    Job planned = run(JobType.newBuilder().setPlan(PlanJob.getDefaultInstance()).build());
    assertThat(planned.getStatus()).as(planned.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(planned.getChanges().getAdd()).isEqualTo(4);
  }

  @Test
  void apply_failsCleanly_withTheProvidersDiagnostic() throws Exception {
    Job applied = run(JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build());
    assertThat(applied.getStatus()).isEqualTo(JobStatus.JOB_STATUS_FAILED);
    assertThat(applied.getErrorMessage()).contains("127.0.0.1:1");
  }

  @Test
  void cancel_duringPlan_leavesNoProcessBehind() throws Exception {
    Job job = stub.submit(AWS, "acme", "aws", JobType.newBuilder()
        .setPlan(PlanJob.getDefaultInstance()).build(), Map.of(), Map.of());
    await().atMost(Duration.ofSeconds(120)).until(() -> !Processes.withMarker(
        "terraform-provider-aws").isEmpty());
    stub.admin().blocking(10).cancelJob(CancelJobRequest.newBuilder().setId(job.getId()).build());
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(60));
    assertThat(done.getStatus()).isEqualTo(JobStatus.JOB_STATUS_CANCELLED);
  }
}
