package dev.outpost.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's class-data archive for `run`, with a stand-in {@code java} (JAVA_HOME) that
 * records its arguments and, asked to archive at exit, writes the file as the JVM would: which
 * flags each start gets, and which archive survives which exit. That a real JVM accepts the
 * archive is what bench/'s whole-process runs measure.
 */
class LauncherArchiveTest {
  private static final Path LAUNCHER = Path.of(System.getProperty("outpost.repo.root", ".."))
      .resolve("packaging/bin/outpost-agent");

  @TempDir
  Path tmp;

  @Test
  void cleanExit_keepsTheArchive_laterStartsMapIt() throws Exception {
    Path cache = tmp.resolve("cache");

    assertThat(run(cache, 0, Map.of())).isZero();
    List<Path> archives = files(cache);
    assertThat(archives).hasSize(1);
    assertThat(archives.get(0).getFileName().toString()).matches("outpost-agent-[0-9]+\\.jsa");
    assertThat(lastArgs()).anyMatch(a -> a.startsWith("-XX:ArchiveClassesAtExit=" + cache));

    assertThat(run(cache, 0, Map.of())).isZero();
    assertThat(lastArgs()).contains("-XX:SharedArchiveFile=" + archives.get(0), "-Xshare:auto")
        .noneMatch(a -> a.startsWith("-XX:ArchiveClassesAtExit"));
    assertThat(files(cache)).containsExactlyElementsOf(archives);
  }

  @Test
  void failedExit_leavesNoArchive() throws Exception {
    Path cache = tmp.resolve("cache");

    assertThat(run(cache, 2, Map.of())).isEqualTo(2);

    assertThat(files(cache)).isEmpty();
  }

  @Test
  void otherFlags_makeANewArchive_andTheOldOneGoes() throws Exception {
    Path cache = tmp.resolve("cache");
    run(cache, 0, Map.of());
    List<Path> before = files(cache);

    run(cache, 0, Map.of("JAVA_OPTS", "-XX:+UseSerialGC -Xmx64m"));

    assertThat(files(cache)).hasSize(1).doesNotContainAnyElementsOf(before);
  }

  @Test
  void sharingFlagsOfOnesOwn_orNoCacheDirectory_meanNoArchive() throws Exception {
    Path cache = tmp.resolve("cache");

    run(cache, 0, Map.of("JAVA_OPTS", "-XX:+UseSerialGC -Xshare:off"));
    assertThat(lastArgs()).noneMatch(a -> a.contains("Archive"));
    run(null, 0, Map.of());
    assertThat(lastArgs()).noneMatch(a -> a.contains("Archive"));

    assertThat(files(cache)).isEmpty();
  }

  /** The launcher's `run` with the stand-in java exiting {@code code}; its exit code. */
  private int run(Path cache, int code, Map<String, String> env) throws Exception {
    Path home = tmp.resolve("jdk");
    Path java = home.resolve("bin/java");
    if (!Files.exists(java)) {
      Files.createDirectories(java.getParent());
      Files.writeString(java, """
          #!/bin/bash
          printf '%s\\n' "$@" > "$(dirname "$0")/args"
          for a in "$@"; do
            case $a in
              -XX:ArchiveClassesAtExit=*) [ "$STANDIN_EXIT" = 0 ] && echo jsa > "${a#*=}" ;;
            esac
          done
          exit "$STANDIN_EXIT"
          """);
      Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwx------"));
    }
    Path jar = tmp.resolve("outpost-agent.jar");
    if (!Files.exists(jar)) {
      Files.writeString(jar, "not a jar: the stand-in java never opens it");
    }
    ProcessBuilder builder = new ProcessBuilder("bash", LAUNCHER.toString(), "run",
        "--control-plane", "cp.example:443").redirectErrorStream(true)
        .redirectOutput(tmp.resolve("launcher.log").toFile());
    builder.environment().remove("CACHE_DIRECTORY");
    builder.environment().remove("JAVA_OPTS");
    builder.environment().put("JAVA_HOME", home.toString());
    builder.environment().put("OUTPOST_AGENT_JAR", jar.toString());
    builder.environment().put("STANDIN_EXIT", Integer.toString(code));
    // Exit 2 is not restarted; exit 0 ends the launcher too.
    builder.environment().put("OUTPOST_CACHE_DIR", cache == null ? "" : cache.toString());
    builder.environment().putAll(env);
    Process launcher = builder.start();
    assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).as("launcher finished").isTrue();
    return launcher.exitValue();
  }

  private List<String> lastArgs() throws IOException {
    return Files.readAllLines(tmp.resolve("jdk/bin/args"), StandardCharsets.UTF_8);
  }

  private static List<Path> files(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }
}
