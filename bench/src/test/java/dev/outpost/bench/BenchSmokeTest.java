package dev.outpost.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * A smoke pass of the harness, not a measurement: every benchmark runs once, briefly, in this
 * JVM, and the report is built from JMH's JSON. No target is asserted: speed is bench/run's
 * business.
 */
class BenchSmokeTest {
  @TempDir
  Path tmp;

  @Test
  void everyBenchmarkRuns_andTheReportHasARowPerTarget() throws Exception {
    Path json = tmp.resolve("jmh.json");
    Options options = new OptionsBuilder().include("dev\\.outpost\\..*Benchmark")
        .forks(0).warmupIterations(0).measurementIterations(1)
        .measurementTime(TimeValue.milliseconds(300)).shouldFailOnError(true)
        .resultFormat(ResultFormatType.JSON).result(json.toString()).build();
    var results = new Runner(options).run();

    assertThat(results).hasSize(2).allSatisfy(r ->
        assertThat(r.getPrimaryResult().getScore()).as(r.getParams().getBenchmark()).isPositive());
    ObjectMapper mapper = new ObjectMapper();
    List<Report.Row> rows = Report.rows(mapper.readTree(json.toFile()), mapper.readTree(
        "{\"startToReadyMillis\": [900, 1100, 1000], \"rssIdleKiB\": [81920],"
            + " \"rssDuringJobsKiB\": 102400, \"dispatchMillis\": [20, 30, 60],"
            + " \"overheadSmall\": {\"agentMillis\": [500, 400, 450],"
            + " \"bareMillis\": [300, 320, 310]},"
            + " \"logThroughput\": {\"lines\": 1000, \"agentMillis\": [1080, 2600, 1050],"
            + " \"bareMillis\": [1000, 2000, 1000], \"lost\": 0, \"doubled\": 1}}"));
    assertThat(rows).hasSize(11);
    // Pairs: +200, +80, +140 ms; ratios 1.667, 1.25, 1.452.
    assertThat(rows.get(0).value())
        .isEqualTo("agent 450 ms, bare 310 ms; pair by pair +140 ms, ratio 1.452 (1.25 to 1.67)");
    assertThat(rows.get(0).verdict()).isEqualTo("met");
    assertThat(rows.get(1).value()).isEqualTo("not measured");
    assertThat(rows.get(2).value()).isEqualTo("p50 30 ms, p99 60 ms");
    assertThat(rows.get(2).verdict()).isEqualTo("NOT met");
    // Pairs: 1.08, 1.30, 1.05; one line doubled.
    assertThat(rows.get(3).value()).isEqualTo("agent 1080 ms, bare 1000 ms; pair by pair ratio "
        + "1.080 (1.05 to 1.30); 0 lost, 1 doubled");
    assertThat(rows.get(3).verdict()).isEqualTo("NOT met");
    assertThat(rows.get(5).value()).isEqualTo("80 MiB idle, 100 MiB peak during jobs");
    assertThat(rows.get(6).value()).isEqualTo("1.00 s");
    assertThat(rows.get(9).value()).endsWith("lines/s");
    assertThat(rows.get(10).value()).endsWith("MB/s");
    assertThat(Report.markdown(rows)).startsWith("| measure | target | measured | |");
    assertThat(Report.median(List.of(3.0, 1.0, 10.0, 2.0))).isEqualTo(2.5);
  }
}
