package dev.outpost.packaging;

import java.io.IOException;
import java.nio.file.Path;
import java.util.jar.JarFile;

/** Where the build put what this module tests; set by failsafe (see packaging/pom.xml). */
final class Artifacts {
  static final String VERSION = property("outpost.version");
  static final Path TARGET = Path.of(property("outpost.packaging.target"));
  static final Path REPO = Path.of(property("outpost.repo.root")).toAbsolutePath().normalize();
  static final Path AGENT_JAR = Path.of(property("outpost.agent.jar"));
  static final Path SYSTEMD = REPO.resolve("systemd");

  private Artifacts() {}

  /** jdeb's form of the Maven version: 0.1.0-SNAPSHOT becomes 0.1.0~snapshot. */
  static String debianVersion() {
    return VERSION.endsWith("-SNAPSHOT")
        ? VERSION.substring(0, VERSION.length() - "-SNAPSHOT".length()) + "~snapshot"
        : VERSION;
  }

  static Path deb() {
    return TARGET.resolve("outpost-agent_" + debianVersion() + "_all.deb");
  }

  static Path tarball() {
    return TARGET.resolve("outpost-agent-" + VERSION + ".tar.gz");
  }

  static Path imageTar() {
    return TARGET.resolve("outpost-agent-image.tar");
  }

  /**
   * The first line `outpost-agent --version` must print: the version the packaged jar carries
   * (its manifest's Implementation-Version; "dev" when the jar has none).
   */
  static String versionLine() throws IOException {
    try (JarFile jar = new JarFile(AGENT_JAR.toFile())) {
      String v = jar.getManifest().getMainAttributes().getValue("Implementation-Version");
      if (v != null && !v.equals(VERSION)) {
        throw new AssertionError(AGENT_JAR + " says version " + v + ", the build " + VERSION);
      }
      return "outpost-agent " + (v == null ? "dev" : v) + " ";
    }
  }

  private static String property(String name) {
    String v = System.getProperty(name);
    if (v == null) {
      throw new IllegalStateException("system property " + name + " is not set (run through failsafe)");
    }
    return v;
  }
}
