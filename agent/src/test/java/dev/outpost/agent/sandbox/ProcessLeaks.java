package dev.outpost.agent.sandbox;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.assertj.core.api.Assertions;

/**
 * Finds processes by a marker in their command line or environment. Orphans of a killed parent
 * are no longer anyone's descendants, so /proc is the only complete view.
 */
public final class ProcessLeaks {
  /** Put into a command's environment; every descendant inherits it. */
  public static final String MARKER_VARIABLE = "LEAK_MARKER";

  private ProcessLeaks() {}

  public static String newMarker() {
    return "outpost-test-" + UUID.randomUUID();
  }

  public static List<String> matching(String marker) {
    List<String> found = new ArrayList<>();
    byte[] needle = marker.getBytes(StandardCharsets.UTF_8);
    try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
      entries.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .forEach(p -> {
            if (contains(p.resolve("cmdline"), needle) || contains(p.resolve("environ"), needle)) {
              if (!isZombie(p)) {
                found.add(p.getFileName() + " " + cmdline(p));
              }
            }
          });
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return found;
  }

  public static void assertNoneLeft(String marker) {
    await("no process with marker " + marker)
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(50))
        .untilAsserted(() -> Assertions.assertThat(matching(marker)).isEmpty());
  }

  /** Kills whatever a failed test left behind, so one failure does not poison the machine. */
  public static void killAll(String marker) {
    for (String line : matching(marker)) {
      long pid = Long.parseLong(line.substring(0, line.indexOf(' ')));
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  private static boolean contains(Path file, byte[] needle) {
    try {
      byte[] data = Files.readAllBytes(file);
      outer:
      for (int i = 0; i + needle.length <= data.length; i++) {
        for (int j = 0; j < needle.length; j++) {
          if (data[i + j] != needle[j]) {
            continue outer;
          }
        }
        return true;
      }
    } catch (IOException e) {
      // the process ended while we looked
    }
    return false;
  }

  private static boolean isZombie(Path proc) {
    try {
      String stat = Files.readString(proc.resolve("stat"));
      return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
    } catch (IOException e) {
      return true;
    }
  }

  private static String cmdline(Path proc) {
    try {
      return new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8)
          .replace('\0', ' ');
    } catch (IOException e) {
      return "?";
    }
  }
}
