package dev.outpost.agent.workspace;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The source-archive extractor with its default limits, on a configuration-like archive:
 * {@link #FILES} files in nested modules, {@link #BYTES} bytes unpacked, text that compresses
 * as .tf files do. One operation extracts the archive into a new directory (on the temporary
 * file system); the report turns operations per second into MB/s of unpacked bytes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ArchiveExtractorBenchmark {
  public static final int FILES = 400;
  public static final long BYTES = 16L << 20;

  private Path dir;
  private Path archive;
  private Path target;
  private int round;
  private final ArchiveExtractor extractor = new ArchiveExtractor();

  @Setup(Level.Trial)
  public void pack() throws IOException {
    dir = Files.createTempDirectory("outpost-bench-archive");
    archive = dir.resolve("source.tar.gz");
    Random random = new Random(7);
    byte[] content = new byte[(int) (BYTES / FILES)];
    String words = "resource variable output module provider locals count for_each depends_on "
        + "lifecycle terraform_data aws_instance subnet_id = \"${var.name}\" {\n}\n";
    try (OutputStream file = Files.newOutputStream(archive);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(
            new GzipCompressorOutputStream(file))) {
      for (int i = 0; i < FILES; i++) {
        for (int j = 0; j < content.length; j++) {
          content[j] = (byte) words.charAt((j + random.nextInt(7)) % words.length());
        }
        TarArchiveEntry entry = new TarArchiveEntry("modules/m" + i % 20 + "/file" + i + ".tf");
        entry.setSize(content.length);
        tar.putArchiveEntry(entry);
        tar.write(content);
        tar.closeArchiveEntry();
      }
    }
  }

  @Setup(Level.Invocation)
  public void freshTarget() {
    target = dir.resolve("out-" + round++);
  }

  @Benchmark
  public Path extract() throws IOException, ArchiveException {
    extractor.extract(archive, target);
    return target;
  }

  @TearDown(Level.Invocation)
  public void removeTarget() throws IOException {
    Trees.deleteRecursively(target);
  }

  @TearDown(Level.Trial)
  public void remove() throws IOException {
    Trees.deleteRecursively(dir);
  }
}
