package dev.outpost.agent.e2e;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the build put the runnable jars (set by the failsafe configuration). */
final class Jars {
  private Jars() {}

  static Path agent() {
    return existing("outpost.agent.jar");
  }

  static Path stub() {
    return existing("outpost.stub.jar");
  }

  static Path repoRoot() {
    return Path.of(System.getProperty("outpost.repo.root", "..")).toAbsolutePath().normalize();
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static Path existing(String property) {
    String value = System.getProperty(property);
    if (value == null || !Files.isRegularFile(Path.of(value))) {
      throw new IllegalStateException("system property " + property + " does not name a built "
          + "jar (" + value + "); run the tests through Maven's verify phase");
    }
    return Path.of(value);
  }
}
