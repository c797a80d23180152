package dev.outpost.agent.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds processes by a marker in their command line by scanning /proc: orphans of a killed
 * agent are no longer its descendants, so ProcessHandle.descendants() would miss them.
 */
final class Processes {
  private Processes() {}

  static List<String> withMarker(String marker) throws IOException {
    List<String> found = new ArrayList<>();
    long self = ProcessHandle.current().pid();
    try (DirectoryStream<Path> proc = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path p : proc) {
        if (p.getFileName().toString().equals(Long.toString(self))) {
          continue;
        }
        try {
          String cmdline = new String(Files.readAllBytes(p.resolve("cmdline")),
              StandardCharsets.UTF_8).replace('\0', ' ');
          if (cmdline.contains(marker)) {
            found.add(p.getFileName() + ": " + cmdline.strip());
          }
        } catch (IOException gone) {
          // The process ended while we looked.
        }
      }
    }
    return found;
  }
}
