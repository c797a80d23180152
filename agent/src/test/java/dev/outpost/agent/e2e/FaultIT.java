package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.PayloadKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults during a job, triggered by what the stub has stored (never by sleeping): the job's
 * local-exec prints numbered lines, waits for a gate file, then prints more. After the fault
 * the log on the stub must equal Terraform's output line for line, and the state is stored.
 */
class FaultIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final int BEFORE = 200;
  private static final int AFTER = 200;

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
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  @Test
  void stubKilledAndRestartedMidApply_nothingLostNothingDoubled_stateStored() throws Exception {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    agent = stub.startAgent(tmp, "agent-1", List.of());
    Path config = Files.createDirectories(tmp.resolve("config"));
    Files.writeString(config.resolve("main.tf"), """
        resource "terraform_data" "lines" {
          provisioner "local-exec" {
            command = <<-EOT
              i=1; while [ $i -le %1$d ]; do echo "line $i"; i=$((i+1)); done
              while [ ! -e release.gate ]; do sleep 0.05; done
              while [ $i -le %2$d ]; do echo "line $i"; i=$((i+1)); done
            EOT
          }
        }
        """.formatted(BEFORE, BEFORE + AFTER));
    Job job = stub.submitApply(config, "acme", "ws", Map.of(), Map.of());
    await("line " + BEFORE + " stored").atMost(WAIT).pollInterval(Duration.ofMillis(50))
        .until(() -> lines(stub.logs(job.getId())).contains("line " + BEFORE));

    stub = stub.killAndRestartOnTheSamePorts();
    Files.writeString(tmp.resolve("work").resolve(job.getId()).resolve("source/release.gate"), "");

    Job done = stub.awaitFinished(job.getId(), WAIT);
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    List<String> stored = lines(stub.logs(job.getId()));
    List<String> expected = new ArrayList<>();
    for (int i = 1; i <= BEFORE + AFTER; i++) {
      expected.add("line " + i);
    }
    System.out.printf("%nfault | lines expected | lines stored | duplicates | state stored%n"
        + "stub killed and restarted mid-apply | %d | %d | %d | %s%n", expected.size(),
        stored.size(), stored.size() - new HashSet<>(stored).size(),
        stub.payload(job.getId(), PayloadKind.PAYLOAD_KIND_STATE).length > 0);
    assertThat(stored).containsExactlyElementsOf(expected);
    assertThat(stub.payload(job.getId(), PayloadKind.PAYLOAD_KIND_STATE)).isNotEmpty();
  }

  private static List<String> lines(List<LogEntry> log) throws IOException {
    List<String> lines = new ArrayList<>();
    for (LogEntry e : log) {
      if (e.getType().equals("provision_progress")) {
        String output = JSON.readTree(e.getRaw()).path("hook").path("output").asText();
        if (!output.startsWith("Executing: [")) {
          lines.add(output);
        }
      }
    }
    return lines;
  }
}
