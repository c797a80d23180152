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
            + " \"bareMillis\": [300, 320, 310]}}"));
    assertThat(rows).hasSize(11);
    assertThat(rows.get(0).value()).isEqualTo("agent 450 ms, bare 310 ms: +140 ms, ratio 1.452");
    assertThat(rows.get(0).verdict()).isEqualTo("met");
    assertThat(rows.get(1).value()).isEqualTo("not measured");
    assertThat(rows.get(2).value()).isEqualTo("p50 30 ms, p99 60 ms");
    assertThat(rows.get(2).verdict()).isEqualTo("NOT met");
    assertThat(rows.get(5).value()).isEqualTo("80 MiB idle, 100 MiB peak during jobs");
    assertThat(rows.get(6).value()).isEqualTo("1.00 s");
    assertThat(rows.get(9).value()).endsWith("lines/s");
    assertThat(rows.get(10).value()).endsWith("MB/s");
    assertThat(Report.markdown(rows)).startsWith("| measure | target | measured | |");
  }
}
