package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.PayloadKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults during an apply, triggered by what the stub has stored or the agent has logged, never
 * by sleeping. The job's local-exec prints 20,000 numbered lines at a bounded rate, half of them
 * before it waits for a gate file; the fault strikes once the stub has stored the line before
 * the gate, and the gate opens right after it. Afterwards the log on the stub must equal
 * Terraform's output line for line, the state must be stored, and no process of the test may
 * be left. The agent dials the stub through a TCP proxy the test owns.
 */
class FaultIT {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final int BEFORE = 10_000;
  private static final int AFTER = 10_000;
  private static final List<String> TABLE = Collections.synchronizedList(new ArrayList<>());

  @TempDir
  Path tmp;

  private StubProcess stub;
  private TcpProxy proxy;
  private AgentProcess agent;
  private Job job;

  private interface Fault {
    void strike() throws Exception;
  }

  @BeforeEach
  void startStubProxyAgentAndJob(org.junit.jupiter.api.TestInfo test) throws Exception {
    // The lease test needs leases that lapse within the test; the others keep the default.
    String name = test.getTestMethod().orElseThrow().getName();
    List<String> serveFlags = name.startsWith("lease")
        ? List.of("--lease-ttl", "PT3S") : List.of();
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")),
        List.of("localhost", "127.0.0.1"), serveFlags);
    proxy = new TcpProxy(stub.agentPort());
    // The drain row drains for real; the others keep the tests' immediate stop.
    agent = startAgent(name.startsWith("drain") ? List.of("--drain-timeout", "PT5M") : List.of(),
        name.startsWith("supervised"));
    Path config = Files.createDirectories(tmp.resolve("config"));
    Files.writeString(config.resolve("main.tf"), """
        resource "terraform_data" "lines" {
          provisioner "local-exec" {
            command = <<-EOT
              i=1
              while [ $i -le %1$d ]; do
                echo "line $i"; i=$((i+1)); if [ $((i %% 500)) -eq 0 ]; then sleep 0.05; fi
              done
              while [ ! -e release.gate ]; do sleep 0.05; done
              while [ $i -le %2$d ]; do
                echo "line $i"; i=$((i+1)); if [ $((i %% 500)) -eq 0 ]; then sleep 0.05; fi
              done
            EOT
          }
        }
        """.formatted(BEFORE, BEFORE + AFTER));
    job = stub.submitApply(config, "acme", "ws", Map.of(), Map.of());
    await("line " + BEFORE + " stored").atMost(WAIT).pollInterval(Duration.ofMillis(50))
        .until(() -> stub.job(job.getId()).getLogEntries() >= BEFORE
            && ApplyEndToEndIT.provisionerLines(stub.logs(job.getId())).contains("line " + BEFORE));
  }

  private AgentProcess startAgent(List<String> flags, boolean supervised) throws Exception {
    return stub.startAgent(tmp, "agent-1", "localhost:" + proxy.port(), flags, Map.of(),
        supervised);
  }

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    proxy.close();
    stub.close();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  @AfterAll
  static void printTable() {
    System.out.printf("%n| fault | lines expected | lines stored | duplicates | state stored |%n"
        + "| --- | --- | --- | --- | --- |%n");
    TABLE.forEach(System.out::println);
  }

  @Test
  void stubKilledAndRestartedMidApply() throws Exception {
    survives("stub killed (SIGKILL) and restarted mid-apply", () -> {
      stub = stub.killAndRestartOnTheSamePorts();
    });
  }

  @Test
  void stubKilledAndRestartedWhileTheAgentCompletes() throws Exception {
    survives("stub killed and restarted once the last line is stored (while completing)", () -> {
      release();
      await("last line stored").atMost(WAIT).pollInterval(Duration.ofMillis(20))
          .until(() -> ApplyEndToEndIT.provisionerLines(stub.logs(job.getId())).contains("line " + (BEFORE + AFTER)));
      stub = stub.killAndRestartOnTheSamePorts();
    });
  }

  @Test
  void networkResetMidApply() throws Exception {
    int before = proxy.accepted();
    survives("every connection reset (RST) mid-apply", proxy::reset);
    assertThat(proxy.accepted()).as("the agent reconnected").isGreaterThan(before);
  }

  @Test
  void networkCutMidApply_untilTheAgentHasRetried() throws Exception {
    survives("network cut mid-apply until the agent has retried, then restored", () -> {
      long lost = lostConnections();
      proxy.cut();
      release();
      await("the agent retried while cut off").atMost(WAIT).pollInterval(Duration.ofMillis(50))
          .until(() -> lostConnections() >= lost + 2);
      proxy.restore();
    });
  }

  @Test
  void leaseExpiredWhileCutOff_theLateLogAndStateAreStillStored() throws Exception {
    Job done = survives("lease expired while cut off; Terraform finished meanwhile", () -> {
      proxy.cut();
      await("the lease expired").atMost(WAIT).pollInterval(Duration.ofMillis(100))
          .until(() -> stub.job(job.getId()).getStatus() == JobStatus.JOB_STATUS_INTERRUPTED);
      release();
      await("Terraform finished while cut off").atMost(WAIT).pollInterval(Duration.ofMillis(100))
          .until(this::terraformDone);
      proxy.restore();
    }, JobStatus.JOB_STATUS_SUCCEEDED);
    // The job was marked interrupted when its lease lapsed; the result that came later is
    // stored with Terraform's real outcome, flagged late.
    assertThat(done.getLate()).as("stored, flagged late").isTrue();
  }

  @Test
  void networkStalledMidApply() throws Exception {
    survives("network stalled mid-apply (connections open, nothing moves) until noticed", () -> {
      long lost = lostConnections();
      proxy.stall();
      release();
      await("the agent noticed the stall").atMost(WAIT).pollInterval(Duration.ofMillis(100))
          .until(() -> lostConnections() > lost);
      proxy.restore();
    });
  }

  @Test
  void supervisedJvmKilledMidApply_theLauncherRestartsItAndTheJobResumes() throws Exception {
    ProcessHandle first = agent.jvm().orElseThrow();
    survives("agent JVM killed (SIGKILL) while lines flow; the launcher restarts it", () -> {
      release();
      await("lines flowing").atMost(WAIT).pollInterval(Duration.ofMillis(10))
          .until(() -> stub.job(job.getId()).getLogEntries() >= BEFORE + 2000);
      assertThat(first.destroyForcibly()).isTrue();
      first.onExit().get();
      await("a new JVM under the launcher").atMost(WAIT).pollInterval(Duration.ofMillis(100))
          .until(() -> agent.jvm().filter(j -> j.pid() != first.pid()).isPresent());
    });
    assertThat(agent.isAlive()).as("the launcher lives on").isTrue();
    assertThat(agent.output()).contains("starting it again").contains("resumed from");
    // SIGHUP through the launcher: the JVM reads its credentials and logging again, and lives.
    ProcessHandle second = agent.jvm().orElseThrow();
    agent.signal("HUP");
    await("reloaded").atMost(WAIT).pollInterval(Duration.ofMillis(50))
        .until(() -> agent.output().contains("logging configuration read again")
            && agent.output().contains("credential files changed"));
    assertThat(agent.jvm().map(ProcessHandle::pid)).contains(second.pid());
  }

  @Test
  void wholeAgentKilledMidApply_andStartedAgainByHand() throws Exception {
    survives("whole agent killed (SIGKILL) mid-apply, started again by hand", () -> {
      agent.kill();
      release();
      await("Terraform finished while no agent ran").atMost(WAIT)
          .pollInterval(Duration.ofMillis(100)).until(this::terraformDone);
      agent = startAgent(List.of(), false);
    });
  }

  @Test
  void wholeAgentKilledWithItsResultSpooled_theNextOneDeliversIt() throws Exception {
    survives("whole agent killed with the result spooled, not yet acknowledged", () -> {
      proxy.cut();
      release();
      Path result = tmp.resolve("state/jobs").resolve(job.getId()).resolve("result");
      await("the result spooled").atMost(WAIT).pollInterval(Duration.ofMillis(50))
          .until(() -> Files.isRegularFile(result.resolve("request.pb")));
      agent.kill();
      proxy.restore();
      agent = startAgent(List.of(), false);
    });
  }

  @Test
  void drainOnSigtermWithAJobRunning() throws Exception {
    survives("SIGTERM with a job running: drained, the job finishes", () -> {
      agent.terminate();
      await("draining").atMost(WAIT).pollInterval(Duration.ofMillis(50))
          .until(() -> agent.output().contains("draining"));
    });
    assertThat(agent.awaitExit(WAIT)).as("exit code after the drain").contains(0);
  }

  /** Strikes, opens the gate, and checks that the whole log and the state arrived. */
  private Job survives(String name, Fault fault) throws Exception {
    return survives(name, fault, JobStatus.JOB_STATUS_SUCCEEDED);
  }

  private Job survives(String name, Fault fault, JobStatus expectedStatus) throws Exception {
    fault.strike();
    release();
    Job done = await("the result stored").atMost(WAIT).pollInterval(Duration.ofMillis(100))
        .until(() -> stub.job(job.getId()), j -> j.getStatus() == expectedStatus
            && j.getLogEntries() >= j.getLastLogSeq());
    List<dev.outpost.proto.v1.LogEntry> log = stub.logs(job.getId());
    List<String> stored = ApplyEndToEndIT.provisionerLines(log);
    // The agent's own last word on the job, also written once across restarts.
    long finalMessages = log.stream()
        .filter(e -> e.getMessage().startsWith("job " + job.getId() + " succeeded")).count();
    List<String> expected = new ArrayList<>();
    for (int i = 1; i <= BEFORE + AFTER; i++) {
      expected.add("line " + i);
    }
    byte[] state = stub.payload(job.getId(), PayloadKind.PAYLOAD_KIND_STATE);
    TABLE.add("| " + name + " | " + expected.size() + " | " + stored.size() + " | "
        + (stored.size() - new HashSet<>(stored).size()) + " | " + (state.length > 0) + " |");
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(expectedStatus);
    assertThat(stored).containsExactlyElementsOf(expected);
    assertThat(finalMessages).as("the job's final message").isEqualTo(1);
    assertThat(state).isNotEmpty();
    return done;
  }

  /** Terraform's apply has recorded its exit status in the job directory. */
  private boolean terraformDone() throws IOException {
    Path runs = tmp.resolve("work").resolve(job.getId()).resolve(".outpost/run");
    if (!Files.isDirectory(runs)) {
      return false;
    }
    try (var dirs = Files.list(runs)) {
      return dirs.anyMatch(d -> d.getFileName().toString().contains("apply")
          && Files.exists(d.resolve("exit")));
    }
  }

  private void release() throws IOException {
    Path gate = tmp.resolve("work").resolve(job.getId()).resolve("source/release.gate");
    try {
      if (!Files.exists(gate)) {
        Files.writeString(gate, "");
      }
    } catch (java.nio.file.NoSuchFileException e) {
      // The job already finished and its directory is gone: nothing waits for the gate.
    }
  }

  private long lostConnections() throws IOException {
    return agent.output().lines()
        .filter(l -> l.contains("connection to the control plane lost")).count();
  }
}
