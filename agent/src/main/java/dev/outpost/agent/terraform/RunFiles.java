package dev.outpost.agent.terraform;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Where one command's files go: {@code <jobDir>/.outpost/run/NN-stage.stdout|.stderr} and the
 * control dir {@code NN-stage/}. NN continues from what is on disk, so a restarted JVM never
 * reuses a number.
 */
record RunFiles(String stage, Path stdout, Path stderr, Path controlDir) {
  private static final Pattern NUMBERED = Pattern.compile("^(\\d{2,})-.*");

  static Path runDir(Path jobDir) {
    return jobDir.resolve(".outpost").resolve("run");
  }

  /** The runs recorded in a job directory (their control directories), in the order started. */
  static java.util.List<RunFiles> recorded(Path jobDir) throws IOException {
    Path dir = runDir(jobDir);
    java.util.TreeMap<Integer, RunFiles> runs = new java.util.TreeMap<>();
    if (!Files.isDirectory(dir)) {
      return java.util.List.of();
    }
    try (Stream<Path> entries = Files.list(dir)) {
      for (Path p : (Iterable<Path>) entries::iterator) {
        String name = p.getFileName().toString();
        Matcher m = NUMBERED.matcher(name);
        if (m.matches() && Files.isDirectory(p) && name.indexOf('-') > 0) {
          String stage = name.substring(name.indexOf('-') + 1);
          runs.put(Integer.parseInt(m.group(1)), new RunFiles(stage,
              dir.resolve(name + ".stdout"), dir.resolve(name + ".stderr"), p));
        }
      }
    }
    return java.util.List.copyOf(runs.values());
  }

  static synchronized RunFiles next(Path jobDir, String stage) throws IOException {
    Path dir = Files.createDirectories(runDir(jobDir));
    int highest = 0;
    try (Stream<Path> entries = Files.list(dir)) {
      for (Path p : (Iterable<Path>) entries::iterator) {
        Matcher m = NUMBERED.matcher(p.getFileName().toString());
        if (m.matches()) {
          highest = Math.max(highest, Integer.parseInt(m.group(1)));
        }
      }
    }
    String prefix = String.format("%02d-%s", highest + 1, stage);
    return new RunFiles(stage, dir.resolve(prefix + ".stdout"), dir.resolve(prefix + ".stderr"),
        dir.resolve(prefix));
  }
}
