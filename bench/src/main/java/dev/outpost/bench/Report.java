package dev.outpost.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.workspace.ArchiveExtractorBenchmark;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The benchmark table: every target of the performance issue next to its measured value from
 * one run. Reads JMH's JSON results; rows not measured by this harness yet say so instead of
 * showing a number.
 */
public final class Report {
  /** One row: what is measured, the target, the value, and whether the target is met. */
  public record Row(String measure, String target, String value, String verdict) {}

  private Report() {}

  public static void main(String[] args) throws IOException {
    System.out.print(markdown(rows(new ObjectMapper().readTree(Path.of(args[0]).toFile()))));
  }

  /** The rows for JMH's JSON result array. */
  public static List<Row> rows(JsonNode jmh) {
    List<Row> rows = new ArrayList<>();
    Double lines = score(jmh, "LogPipelineBenchmark.parseRedactBatch");
    rows.add(lines == null ? notMeasured("log pipeline: parse, redact (50 secrets), batch",
        ">= 500,000 lines/s per core")
        : new Row("log pipeline: parse, redact (50 secrets), batch (JMH, 1 thread)",
            ">= 500,000 lines/s per core", String.format(Locale.ROOT, "%,.0f lines/s", lines),
            lines >= 500_000 ? "met" : "NOT met"));
    Double extractions = score(jmh, "ArchiveExtractorBenchmark.extract");
    rows.add(extractions == null ? notMeasured("archive extractor", "(reported)")
        : new Row("archive extractor: " + ArchiveExtractorBenchmark.FILES + " files, "
            + (ArchiveExtractorBenchmark.BYTES >> 20) + " MiB unpacked (JMH)", "(reported)",
            String.format(Locale.ROOT, "%.0f MB/s",
                extractions * ArchiveExtractorBenchmark.BYTES / 1e6), "-"));
    for (String[] pending : new String[][] {
        {"overhead per job, 20 terraform_data resources", "<= 150 ms added"},
        {"overhead per job, AWS example plan", "<= 5% added"},
        {"dispatch latency p99, agent idle and connected (200 jobs)", "< 50 ms"},
        {"log throughput, 200,000 lines vs bare terraform, zero lost or doubled", "<= 1.10"},
        {"log latency p99 at 5,000 lines/s", "< 100 ms"},
        {"agent RSS, idle and connected", "<= 96 MiB"},
        {"process start to connected and ready", "< 1.5 s"},
        {"8 jobs at once vs 8 bare runs", "<= 1.10"},
        {"control plane: dispatch p99 with 1,000 agents", "< 100 ms"}}) {
      rows.add(notMeasured(pending[0], pending[1]));
    }
    return rows;
  }

  private static Row notMeasured(String measure, String target) {
    return new Row(measure, target, "not measured yet", "-");
  }

  /** The primary score of the benchmark whose name ends with {@code suffix}; null if absent. */
  private static Double score(JsonNode jmh, String suffix) {
    for (JsonNode result : jmh) {
      if (result.path("benchmark").asText().endsWith(suffix)) {
        return result.path("primaryMetric").path("score").asDouble();
      }
    }
    return null;
  }

  public static String markdown(List<Row> rows) {
    StringBuilder out = new StringBuilder("| measure | target | measured | |\n"
        + "| --- | --- | --- | --- |\n");
    for (Row row : rows) {
      out.append("| ").append(row.measure()).append(" | ").append(row.target()).append(" | ")
          .append(row.value()).append(" | ").append(row.verdict()).append(" |\n");
    }
    return out.toString();
  }
}
