package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.ListKeysRequest;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.PayloadKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stub's database store: a stub killed with SIGKILL and started again on its data
 * directory still has its orgs, keys, jobs, logs, states and workspaces, and an agent with the
 * same org key runs the next job on the stored state. A second stub on a data directory in use
 * is refused.
 */
class StubRestartIT {
  private static final Duration WAIT = Duration.ofSeconds(90);

  @TempDir
  Path tmp;

  private StubProcess stub;
  private AgentProcess agent;

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (stub != null) {
      stub.close();
    }
  }

  @Test
  void killedAndRestarted_theStubLosesNothing_andTheNextJobRunsOnTheStoredState()
      throws Exception {
    Path data = Files.createDirectories(tmp.resolve("stub"));
    stub = StubProcess.start(data);
    Path orgKey = Files.writeString(tmp.resolve("org.key"), stub.createKey("acme", Map.of()));
    agent = startAgent(orgKey, "agent-1");
    Job first = stub.submitApply(Jars.repoRoot().resolve("examples/hello"), "acme", "hello",
        Map.of("lines", "12"), Map.of("api_token", "t0ken-for-tests"));
    Job done = stub.awaitFinished(first.getId(), WAIT);
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    List<LogEntry> logs = stub.logs(first.getId());
    byte[] state = stub.payload(first.getId(), PayloadKind.PAYLOAD_KIND_STATE);
    assertThat(state).isNotEmpty();

    Process second = StubProcess.serve(data, List.of(), tmp.resolve("second-stub.log"));
    assertThat(second.waitFor(60, TimeUnit.SECONDS)).as("a second stub on the same data dir")
        .isTrue();
    assertThat(second.exitValue()).isEqualTo(ExitCodes.CONFIG);
    assertThat(Files.readString(tmp.resolve("second-stub.log")))
        .contains("cannot open the store " + data.toAbsolutePath().resolve("outpost-stub"));

    agent.close();
    stub = stub.killAndRestart(List.of());

    Job after = stub.job(first.getId());
    assertThat(after).isEqualTo(done);
    assertThat(stub.logs(first.getId())).isEqualTo(logs);
    assertThat(stub.payload(first.getId(), PayloadKind.PAYLOAD_KIND_STATE)).isEqualTo(state);
    assertThat(stub.admin().blocking(10).listKeys(ListKeysRequest.newBuilder().setOrg("acme")
        .build()).getKeysList()).hasSize(1);

    agent = startAgent(orgKey, "agent-2");
    Job next = stub.submitApply(Jars.repoRoot().resolve("examples/hello"), "acme", "hello",
        Map.of("lines", "12"), Map.of("api_token", "t0ken-for-tests"));
    Job nextDone = stub.awaitFinished(next.getId(), WAIT);
    assertThat(nextDone.getStatus()).as(nextDone.getErrorMessage())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(nextDone.getChanges().getAdd()).as("the resources were already in the stored state")
        .isZero();
    assertThat(nextDone.getResourcesList()).hasSize(done.getResourcesCount());
  }

  private AgentProcess startAgent(Path orgKey, String name) throws Exception {
    TestPki.Client client = stub.pki.client("acme", name);
    return AgentProcess.start(new AgentProcess.Options(stub.agentTarget(), stub.pki.ca(),
        client.cert(), client.key(), orgKey, tmp.resolve(name + "-state"),
        tmp.resolve(name + "-work"), List.of("--name", name)), tmp.resolve(name + ".log"));
  }
}
