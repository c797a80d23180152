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

  /** Arguments: JMH's JSON results, then {@link WholeProcess}'s (optional). */
  public static void main(String[] args) throws IOException {
    ObjectMapper json = new ObjectMapper();
    JsonNode whole = args.length > 1 ? json.readTree(Path.of(args[1]).toFile())
        : json.createObjectNode();
    System.out.print(markdown(rows(json.readTree(Path.of(args[0]).toFile()), whole)));
  }

  /** The rows for JMH's JSON result array and the whole-process samples. */
  public static List<Row> rows(JsonNode jmh, JsonNode whole) {
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
    List<Double> dispatch = samples(whole, "dispatchMillis");
    rows.add(dispatch.isEmpty()
        ? notMeasured("dispatch latency p99, agent idle and connected (200 jobs)", "< 50 ms")
        : new Row("dispatch latency, submit returned to Terraform started, agent idle and "
            + "connected (" + dispatch.size() + " jobs)", "p99 < 50 ms",
            String.format(Locale.ROOT, "p50 %.0f ms, p99 %.0f ms", percentile(dispatch, 50),
                percentile(dispatch, 99)), percentile(dispatch, 99) < 50 ? "met" : "NOT met"));
    List<Double> rss = samples(whole, "rssIdleKiB");
    rows.add(rss.isEmpty() ? notMeasured("agent RSS, idle and connected", "<= 96 MiB")
        : new Row("agent RSS, idle and connected (launcher's JVM flags)", "<= 96 MiB",
            String.format(Locale.ROOT, "%.0f MiB idle, %.0f MiB after the jobs",
                rss.get(0) / 1024, whole.path("rssAfterJobsKiB").asDouble() / 1024),
            rss.get(0) / 1024 <= 96 ? "met" : "NOT met"));
    List<Double> start = samples(whole, "startToReadyMillis");
    rows.add(start.isEmpty() ? notMeasured("process start to connected and ready", "< 1.5 s")
        : new Row("process start to connected and ready, /readyz 200 (median of "
            + start.size() + ")", "< 1.5 s", String.format(Locale.ROOT, "%.2f s",
                percentile(start, 50) / 1000), percentile(start, 50) < 1500 ? "met" : "NOT met"));
    for (String[] pending : new String[][] {
        {"overhead per job, 20 terraform_data resources", "<= 150 ms added"},
        {"overhead per job, AWS example plan", "<= 5% added"},
        {"log throughput, 200,000 lines vs bare terraform, zero lost or doubled", "<= 1.10"},
        {"log latency p99 at 5,000 lines/s", "< 100 ms"},
        {"8 jobs at once vs 8 bare runs", "<= 1.10"},
        {"control plane: dispatch p99 with 1,000 agents", "< 100 ms"}}) {
      rows.add(notMeasured(pending[0], pending[1]));
    }
    return rows;
  }

  private static List<Double> samples(JsonNode whole, String name) {
    List<Double> values = new ArrayList<>();
    whole.path(name).forEach(v -> values.add(v.asDouble()));
    return values;
  }

  /** Nearest-rank percentile. */
  static double percentile(List<Double> values, double p) {
    List<Double> sorted = values.stream().sorted().toList();
    int rank = (int) Math.ceil(p / 100 * sorted.size());
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
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
