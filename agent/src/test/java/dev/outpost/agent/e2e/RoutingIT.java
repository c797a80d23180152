package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.Variable;
import dev.outpost.proto.v1.WorkspaceRef;
import dev.outpost.stub.server.SourceArchive;
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

/** Tags: an agent claims only what its key allows; a job goes only to agents with its tags. */
class RoutingIT {
  @TempDir
  Path tmp;

  private StubProcess stub;
  private Path keyFile;
  private final List<AgentProcess> agents = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    keyFile = Files.writeString(tmp.resolve("org.key"),
        stub.createKey("acme", Map.of("pool", "gpu")));
  }

  @AfterEach
  void stop() throws Exception {
    for (AgentProcess a : agents) {
      a.close();
    }
    stub.close();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  private AgentProcess agent(String name, String... flags) throws IOException {
    TestPki.Client cert = stub.pki.client("acme", name);
    List<String> extra = new ArrayList<>(List.of("--name", name));
    extra.addAll(List.of(flags));
    AgentProcess a = AgentProcess.start(new AgentProcess.Options(stub.agentTarget(),
        stub.pki.ca(), cert.cert(), cert.key(), keyFile, tmp.resolve(name + "-state"),
        tmp.resolve(name + "-work"), extra), tmp.resolve(name + ".log"));
    agents.add(a);
    return a;
  }

  private Job submit(String workspace, Map<String, String> tags) throws IOException {
    return stub.admin().submit(SubmitJobHeader.newBuilder()
        .setWorkspace(WorkspaceRef.newBuilder().setOrg("acme").setName(workspace))
        .setType(JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()))
        .addVariables(Variable.newBuilder().setName("api_token").setValue("t0ken-1234")
            .setSensitive(true))
        .putAllTags(tags).build(), SourceArchive.pack(Jars.repoRoot().resolve("examples/hello")));
  }

  @Test
  void agentClaimingTagsItsKeyDoesNotAllow_exitsWithTheAuthCode_namingThem() throws Exception {
    AgentProcess a = agent("greedy", "--tag", "pool=gpu,zone=eu");
    assertThat(a.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.AUTH);
    assertThat(a.output()).contains("outpost-agent: ", "{zone=eu}", "does not allow");
  }

  @Test
  void jobWithTags_goesOnlyToAnAgentWithThem_andAnUnmatchableJobSaysWhy() throws Exception {
    agent("plain");
    agent("gpu-agent", "--tag", "pool=gpu");
    // Both connected first: what is tested is routing, not how fast two JVMs start.
    await("both agents connected").atMost(Duration.ofSeconds(120))
        .until(() -> stub.admin().blocking(10).listAgents(
            dev.outpost.proto.v1.ListAgentsRequest.getDefaultInstance()).getAgentsCount() == 2);
    Job unmatchable = submit("nowhere", Map.of("pool", "tpu"));
    Job tagged = submit("tagged", Map.of("pool", "gpu"));

    Job done = stub.awaitFinished(tagged.getId(), Duration.ofSeconds(90));
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(done.getAgentName()).isEqualTo("gpu-agent");
    await().atMost(Duration.ofSeconds(10)).until(() -> stub.job(unmatchable.getId())
        .getPendingReason().contains("no connected agent of org acme has the job's tags {pool=tpu}"));
    assertThat(stub.job(unmatchable.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_QUEUED);
  }
}
