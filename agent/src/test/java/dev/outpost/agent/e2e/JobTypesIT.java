package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.CancelJobRequest;
import dev.outpost.proto.v1.DestroyJob;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PlanJob;
import dev.outpost.proto.v1.TemplateImport;
import dev.outpost.proto.v1.VariableDeclaration;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every job type through stub + agent + real terraform under bubblewrap. */
class JobTypesIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path HELLO = Jars.repoRoot().resolve("examples/hello");
  private static final Map<String, String> TOKEN = Map.of("api_token", "t0ken-for-tests");

  @TempDir
  Path tmp;

  private StubProcess stub;
  private AgentProcess agent;

  @BeforeEach
  void start() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    agent = stub.startAgent(tmp, "agent-1", List.of());
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
    stub.close();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  private Job run(JobType type, String workspace, Map<String, String> vars,
      Map<String, String> sensitive) throws IOException {
    Job job = stub.submit(HELLO, "acme", workspace, type, vars, sensitive);
    return stub.awaitFinished(job.getId(), Duration.ofSeconds(90));
  }

  private static JobType apply() {
    return JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build();
  }


  @Test
  void templateImport_withoutRequiredValues_returnsDeclarations_previewUnavailable()
      throws Exception {
    Job done = run(JobType.newBuilder().setTemplateImport(TemplateImport.getDefaultInstance())
        .build(), "import", Map.of(), Map.of());
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    Map<String, VariableDeclaration> vars = done.getTemplate().getVariablesList().stream()
        .collect(Collectors.toMap(VariableDeclaration::getName, v -> v));
    assertThat(vars).containsOnlyKeys("greeting", "lines", "api_token", "gate");
    assertThat(vars.get("api_token").getRequired()).isTrue();
    assertThat(vars.get("api_token").getSensitive()).isTrue();
    assertThat(vars.get("api_token").getType()).isEqualTo("string");
    assertThat(vars.get("lines").getType()).isEqualTo("number");
    assertThat(vars.get("lines").getDefaultJson()).isEqualTo("5");
    assertThat(vars.get("greeting").getDescription()).startsWith("Printed by the first resource");
    assertThat(done.getTemplate().getOutputsList()).extracting(o -> o.getName())
        .containsExactlyInAnyOrder("greeting", "lines_printed", "api_token");
    assertThat(done.getTemplate().getPreviewAvailable()).isFalse();
    assertThat(done.getTemplate().getPreviewUnavailableReason()).contains("api_token");
    assertThat(done.getState().getSize()).as("an import changes no state").isZero();
  }

  @Test
  void templateImport_withValues_returnsThePlannedResources() throws Exception {
    Job done = run(JobType.newBuilder().setTemplateImport(TemplateImport.getDefaultInstance())
        .build(), "import", Map.of(), TOKEN);
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(done.getTemplate().getPreviewAvailable()).isTrue();
    assertThat(done.getTemplate().getPlannedResourcesList()).extracting(r -> r.getAddress())
        .containsExactlyInAnyOrder("terraform_data.first", "terraform_data.second");
  }

  @Test
  void plan_returnsSummaryPlanJsonAndPlanFile_andChangesNothing() throws Exception {
    Job done = run(JobType.newBuilder().setPlan(PlanJob.getDefaultInstance()).build(), "ws",
        Map.of(), TOKEN);
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(done.getChanges().getAdd()).isEqualTo(2);
    assertThat(done.getResourceChangesList()).extracting(r -> r.getAddress())
        .containsExactlyInAnyOrder("terraform_data.first", "terraform_data.second");
    JsonNode plan = JSON.readTree(stub.payload(done.getId(), PayloadKind.PAYLOAD_KIND_PLAN_JSON));
    assertThat(plan.path("resource_changes")).hasSize(2);
    assertThat(stub.payload(done.getId(), PayloadKind.PAYLOAD_KIND_PLAN_FILE)).isNotEmpty();
    assertThat(done.getState().getSize()).isZero();
    // The plan JSON holds the secret in clear; it must never reach the log.
    assertThat(stub.logs(done.getId())).noneMatch(e -> e.getRaw().contains("t0ken-for-tests"));
  }

  @Test
  void planThenApplyOfTheSavedPlan_succeeds_andAStalePlanIsRefusedByTerraform() throws Exception {
    JobType plan = JobType.newBuilder().setPlan(PlanJob.getDefaultInstance()).build();
    Job planned = run(plan, "ws", Map.of(), TOKEN);
    assertThat(planned.getStatus()).as(planned.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    Job stalePlan = run(plan, "ws", Map.of("greeting", "other"), TOKEN);

    JobType applyPlanned = JobType.newBuilder().setApply(ApplyJob.newBuilder()
        .setSavedPlanJobId(planned.getId())).build();
    Job applied = run(applyPlanned, "ws", Map.of(), TOKEN);
    assertThat(applied.getStatus()).as(applied.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(applied.getResourcesList()).hasSize(2);
    assertThat(applied.getChanges().getAdd()).isEqualTo(2);

    JobType applyStale = JobType.newBuilder().setApply(ApplyJob.newBuilder()
        .setSavedPlanJobId(stalePlan.getId())).build();
    Job refused = run(applyStale, "ws", Map.of(), TOKEN);
    assertThat(refused.getStatus()).as(refused.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_FAILED);
    assertThat(refused.getErrorMessage()).contains("Saved plan is stale");
  }

  @Test
  void apply_thenDestroy_leavesAnEmptyState_andDestroyOfNothingSucceeds() throws Exception {
    Job applied = run(apply(), "ws", Map.of(), TOKEN);
    assertThat(applied.getStatus()).as(applied.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(applied.getChanges().getAdd()).isEqualTo(2);

    JobType destroy = JobType.newBuilder().setDestroy(DestroyJob.getDefaultInstance()).build();
    Job destroyed = run(destroy, "ws", Map.of(), TOKEN);
    assertThat(destroyed.getStatus()).as(destroyed.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(destroyed.getChanges().getDestroy()).isEqualTo(2);
    assertThat(destroyed.getResourcesList()).isEmpty();
    assertThat(destroyed.getStateSerial()).isGreaterThan(applied.getStateSerial());

    Job nothing = run(destroy, "empty", Map.of(), TOKEN);
    assertThat(nothing.getStatus()).as(nothing.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
  }

  @Test
  void cancel_duringApply_stopsTheWholeProcessTree_andKeepsTheState() throws Exception {
    Path config = Files.createDirectories(tmp.resolve("slow"));
    Files.writeString(config.resolve("main.tf"), """
        resource "terraform_data" "done" {
          input = "created before the cancel"
        }
        resource "terraform_data" "slow" {
          depends_on = [terraform_data.done]
          provisioner "local-exec" {
            # A background child and a shell that ignores SIGINT: both must be gone after cancel.
            command = "sleep 300 & trap '' INT; echo started; sleep 300"
          }
        }
        """);
    Job job = stub.submit(config, "acme", "slow", apply(), Map.of(), Map.of());
    await().atMost(Duration.ofSeconds(60)).until(() -> stub.logs(job.getId()).stream()
        .anyMatch(e -> e.getMessage().contains("(local-exec): started")));
    stub.admin().blocking(10).cancelJob(CancelJobRequest.newBuilder().setId(job.getId()).build());

    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(60));
    assertThat(done.getStatus()).isEqualTo(JobStatus.JOB_STATUS_CANCELLED);
    JsonNode state = JSON.readTree(stub.payload(done.getId(), PayloadKind.PAYLOAD_KIND_STATE));
    assertThat(state.path("resources").findValuesAsText("name")).contains("done");
    assertThat(Processes.withMarker("sleep 300")).isEmpty();
  }
}
