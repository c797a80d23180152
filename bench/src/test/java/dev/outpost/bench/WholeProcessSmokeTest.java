package dev.outpost.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A smoke pass of the whole-process benchmarks, not a measurement: one agent start and two
 * dispatches, then each job comparison once against its bare script with a tiny log, a second
 * of paced lines and two jobs at once (real stub, agent jar, Terraform and bwrap). Asserts
 * that every row gets a value and that no log line was lost or doubled; no speed target.
 */
class WholeProcessSmokeTest {
  private static final Path AGENT_JAR = Path.of("..", "agent", "target", "outpost-agent.jar")
      .toAbsolutePath().normalize();

  @Test
  void theWholeProcessRuns_fillEveryRowButTheAwsAndScaleOnes() throws Exception {
    assertThat(AGENT_JAR).as("the agent jar (built by the reactor before this module)")
        .exists();
    ObjectNode whole = WholeProcess.run(AGENT_JAR, 1, 2, Duration.ZERO);
    whole.setAll(JobRuns.run(AGENT_JAR, new JobRuns.Settings(1, 300, 1, 2, null,
        Path.of("..", "examples").toAbsolutePath().normalize())));

    assertThat(whole.path("dispatchMillis")).hasSize(2);
    assertThat(whole.path("overheadSmall").path("agentMillis")).hasSize(1);
    assertThat(whole.path("overheadSmall").path("bareMillis")).hasSize(1);
    assertThat(whole.path("logThroughput").path("lost").asInt()).as("lines lost").isZero();
    assertThat(whole.path("logThroughput").path("doubled").asInt()).as("lines doubled").isZero();
    assertThat(whole.path("logLatency").path("millis").size()).as("paced lines stored")
        .isEqualTo(5000);
    assertThat(whole.path("concurrency").path("perJobMillis")).hasSize(2);
    assertThat(whole.path("rssDuringJobsKiB").asLong()).isPositive();

    List<Report.Row> rows = Report.rows(new ObjectMapper().createArrayNode(), whole);
    assertThat(rows).filteredOn(r -> r.value().equals("not measured"))
        .extracting(Report.Row::measure)
        .allSatisfy(m -> assertThat(m).containsAnyOf("AWS", "control plane", "JMH",
            "log pipeline", "archive extractor"));
    assertThat(rows.get(0).value()).matches("agent \\d+ ms, bare \\d+ ms: [+-]\\d+ ms, ratio .*");
  }
}
