package dev.outpost.agent.packaging;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The agent's JVM flags are written twice: the launcher's defaults (tarball, package, systemd)
 * and the container image's jvm.options. They must make the same choices.
 */
class JvmFlagsTest {
  private static final Path REPO = Path.of(System.getProperty("outpost.repo.root", ".."));

  @Test
  void containerJvmOptions_makeTheLaunchersChoices() throws IOException {
    List<String> launcher = launcherDefaults();
    List<String> image = Files.readAllLines(REPO.resolve("packaging/container/jvm.options"))
        .stream().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#"))
        // The image's one addition: temporary files on its volume.
        .filter(l -> !l.startsWith("-Djava.io.tmpdir=")).toList();

    assertThat(image).containsExactlyElementsOf(launcher);
    assertThat(launcher).contains("-XX:+UseSerialGC", "-Xms8m", "-XX:NewSize=3m",
        "-XX:MaxNewSize=16m", "-XX:MaxRAMPercentage=25", "-XX:+CrashOnOutOfMemoryError");
  }

  @Test
  void agentEnv_showsTheLaunchersDefaults() throws IOException {
    String joined = String.join(" ", launcherDefaults());

    assertThat(Files.readAllLines(REPO.resolve("packaging/conf/agent.env")))
        .contains("#JAVA_OPTS=" + joined);
  }

  private static List<String> launcherDefaults() throws IOException {
    Matcher m = Pattern.compile("(?m)^default_opts=\"([^\"]+)\"$")
        .matcher(Files.readString(REPO.resolve("packaging/bin/outpost-agent")));
    assertThat(m.find()).as("default_opts in the launcher").isTrue();
    return Arrays.asList(m.group(1).trim().split("\\s+"));
  }
}
