package dev.outpost.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A smoke pass of the control-plane scale run, not a measurement: a real stub process, five
 * simulated agents over mutual TLS, five jobs. No target is asserted.
 */
class ControlPlaneScaleSmokeTest {
  @TempDir
  Path tmp;

  @Test
  void fiveAgentsFiveJobs_everyJobIsDispatchedAndTheStubsMemoryIsRead() throws Exception {
    Path json = tmp.resolve("scale.json");

    ControlPlaneScale.main(new String[] {json.toString(), "5", "5", "--rate", "50",
        "--warmup", "2", "--settle", "PT0S"});

    JsonNode out = new ObjectMapper().readTree(json.toFile());
    assertThat(out.get("scaleAgents").asInt()).isEqualTo(5);
    assertThat(out.get("scaleJobs").asInt()).isEqualTo(5);
    assertThat(out.get("scaleDispatchMillis")).hasSize(5)
        .allSatisfy(ms -> assertThat(ms.asDouble()).isGreaterThanOrEqualTo(0));
    assertThat(out.get("scaleSubmitToAssignmentMillis")).hasSize(5);
    assertThat(out.get("scaleWarmupDispatchMillis")).hasSize(2);
    assertThat(out.get("scaleStubRssKiB").asLong()).isPositive();
    assertThat(out.get("scaleStubRssAfterKiB").asLong()).isPositive();
    assertThat(out.get("scaleConnectSeconds").asDouble()).isPositive();
    assertThat(out.get("scaleSessionsLost").asLong()).isZero();
    // The stub was stopped, not left behind.
    assertThat(stubProcesses()).isEmpty();
  }

  /** Stub processes started from this test's data directories. */
  private static Stream<ProcessHandle> stubProcesses() {
    return ProcessHandle.allProcesses().filter(p -> p.info().commandLine()
        .map(c -> c.contains("outpost-scale-") && c.contains(" serve ")).orElse(false))
        .filter(ProcessHandle::isAlive);
  }
}
