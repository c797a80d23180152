package dev.outpost.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A smoke pass of {@code bench/run} itself, not a measurement: the script as the README gives
 * it ({@code bench/run > bench/RESULTS.md}), on the jars this build just made, with every count
 * turned down (one agent start, two dispatches, one run of each comparison, 300 lines, a second
 * of paced lines, two jobs at once, five simulated agents, one short JMH iteration) against the
 * real stub, agent, Terraform and bwrap. It asserts that every row gets a value and that no log
 * line was lost or doubled; no speed target.
 */
class BenchRunIT {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  @TempDir
  Path tmp;

  @Test
  void benchRun_printsTheTableWithEveryRowMeasured_fromOneShortRun() throws Exception {
    Path results = tmp.resolve("RESULTS.md");
    Path raw = tmp.resolve("raw");
    ProcessBuilder run = new ProcessBuilder("bench/run").directory(ROOT.toFile())
        .redirectOutput(results.toFile()).redirectError(tmp.resolve("stderr").toFile());
    run.environment().putAll(java.util.Map.ofEntries(
        java.util.Map.entry("BENCH_NO_BUILD", "1"), java.util.Map.entry("BENCH_OUT", raw.toString()),
        java.util.Map.entry("BENCH_STARTS", "1"), java.util.Map.entry("BENCH_JOBS", "2"),
        java.util.Map.entry("BENCH_IDLE_SECONDS", "0"), java.util.Map.entry("BENCH_RUNS", "1"),
        java.util.Map.entry("BENCH_LINES", "300"), java.util.Map.entry("BENCH_LATENCY_SECONDS", "1"),
        java.util.Map.entry("BENCH_CONCURRENT", "2"), java.util.Map.entry("BENCH_AGENTS", "5"),
        java.util.Map.entry("BENCH_PROVIDER_MIRROR", "none"),
        java.util.Map.entry("BENCH_JMH_ARGS", "-f 0 -wi 0 -i 1 -r 200ms")));
    Process p = run.start();
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("bench/run ended").isTrue();
    assertThat(p.exitValue()).as(Files.readString(tmp.resolve("stderr"))).isZero();

    List<String> lines = Files.readAllLines(results);
    assertThat(lines.get(0)).isEqualTo("# Outpost benchmarks");
    assertThat(lines.get(2)).contains(" cores (", " GiB memory, ", "Terraform v", "bwrap ");
    List<String> rows = lines.stream().filter(l -> l.startsWith("| ") && !l.startsWith("| ---")).skip(1).toList();
    assertThat(rows).hasSize(11);
    assertThat(rows).filteredOn(r -> r.contains("| not measured |"))
        .singleElement().asString().contains("AWS example");

    JsonNode jobs = new ObjectMapper().readTree(raw.resolve("job-runs.json").toFile());
    assertThat(jobs.path("logThroughput").path("lost").asInt()).as("lines lost").isZero();
    assertThat(jobs.path("logThroughput").path("doubled").asInt()).as("lines doubled").isZero();
    assertThat(jobs.path("logLatency").path("millis").size()).as("paced lines stored")
        .isEqualTo(5000);
  }
}
