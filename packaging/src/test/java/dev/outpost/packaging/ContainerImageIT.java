package dev.outpost.packaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The image tar the build makes with Jib, and the Dockerfile for container engines. */
class ContainerImageIT {
  private static final Path DOCKERFILE = Artifacts.REPO.resolve("packaging/container/Dockerfile");

  @TempDir Path tmp;

  @Test
  void image_config_runsTheLauncherAsNonRoot_withDataOnAVolume() throws Exception {
    ImageTar image = ImageTar.unpack(Artifacts.imageTar(), tmp.resolve("image"));
    JsonNode c = image.config.get("config");

    assertThat(image.manifest.get("RepoTags").get(0).asText())
        .isEqualTo("outpost-agent:" + Artifacts.VERSION);
    assertThat(image.config.get("os").asText()).isEqualTo("linux");
    assertThat(c.get("User").asText()).isEqualTo("10001:10001");
    assertThat(strings(c.get("Entrypoint"))).containsExactly("/opt/outpost/bin/outpost-agent");
    assertThat(strings(c.get("Cmd"))).containsExactly("run");
    assertThat(c.get("Volumes").has("/data")).as("volumes %s", c.get("Volumes")).isTrue();
    Map<String, String> env = env(c);
    assertThat(env).containsEntry("OUTPOST_STATE_DIR", "/data/state")
        .containsEntry("OUTPOST_WORK_DIR", "/data/work")
        .containsEntry("JAVA_HOME", "/opt/java")
        .containsEntry("JAVA_OPTS", "@/opt/outpost/conf/jvm.options")
        .containsKey("PATH");
    assertThat(image.config.get("rootfs").get("diff_ids").size()).isEqualTo(image.layers().size());
  }

  @Test
  void image_layers_bringNoTerraform() throws Exception {
    ImageTar image = ImageTar.unpack(Artifacts.imageTar(), tmp.resolve("image"));

    for (Path layer : image.layers()) {
      assertThat(ImageTar.entries(layer)).as("entries of %s", layer.getFileName())
          .noneMatch(e -> e.matches("(.*/)?(terraform|tofu)(\\.exe)?/?"));
    }
  }

  @Test
  void image_entrypoint_printsTheVersion_asUser10001_inItsOwnRoot() throws Exception {
    Path bwrap = Proc.onPath("bwrap");
    assumeTrue(bwrap != null, "bwrap is not installed");
    ImageTar image = ImageTar.unpack(Artifacts.imageTar(), tmp.resolve("image"));
    Path rootfs = tmp.resolve("rootfs");
    try {
      image.extractInto(rootfs);
      hasTheLibrariesOfTheJarsNativeCode(rootfs);
      runsTheVersion(image.config.get("config"), rootfs, bwrap);
    } finally {
      // Here, not by @TempDir, which warns about every link to an absolute path it deletes.
      ImageTar.delete(rootfs);
    }
  }

  /**
   * The JVM unpacks Netty's native libraries (BoringSSL for TLS, epoll) from the jar at run
   * time; without a library they link to, Netty quietly falls back to the JDK's TLS. Every
   * library they name (ldd, on this host) must be in the image.
   */
  private void hasTheLibrariesOfTheJarsNativeCode(Path rootfs) throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("native"));
    List<String> names = new ArrayList<>();
    try (java.util.zip.ZipFile jar = new java.util.zip.ZipFile(Artifacts.AGENT_JAR.toFile())) {
      for (var e : java.util.Collections.list(jar.entries())) {
        if (e.getName().matches("META-INF/native/lib[^/]*_x86_64\\.so")) {
          Path so = dir.resolve(e.getName().substring(e.getName().lastIndexOf('/') + 1));
          try (var in = jar.getInputStream(e)) {
            Files.copy(in, so);
          }
          names.add(so.toString());
        }
      }
    }
    assertThat(names).as("native libraries in the jar").anyMatch(n -> n.contains("tcnative"));
    List<String> command = new ArrayList<>(List.of("ldd"));
    command.addAll(names);
    Proc.Result r = Proc.run(command);
    assertThat(r.exitCode()).as(r.describe()).isZero();
    Matcher m = Pattern.compile("(?m)^\\s+(lib[^ ]+\\.so[.0-9]*) => ").matcher(r.stdout());
    List<String> needed = new ArrayList<>();
    while (m.find()) {
      needed.add(m.group(1));
    }
    assertThat(needed).as(r.describe()).contains("libc.so.6");
    for (String lib : needed) {
      assertThat(rootfs.resolve("usr/lib/x86_64-linux-gnu").resolve(lib)).as(lib).exists();
    }
  }

  private static void runsTheVersion(JsonNode c, Path rootfs, Path bwrap) throws Exception {
    assertThat(rootfs.resolve("opt/outpost/lib/outpost-agent.jar"))
        .hasSameBinaryContentAs(Artifacts.AGENT_JAR);
    assertThat(Files.isExecutable(rootfs.resolve("opt/outpost/bin/outpost-agent"))).isTrue();
    assertThat(rootfs.resolve("opt/outpost/conf/jvm.options"))
        .hasSameBinaryContentAs(Artifacts.REPO.resolve("packaging/container/jvm.options"));
    for (String tool : List.of("bin/bash", "bin/sh", "usr/bin/bwrap", "usr/bin/setsid",
        "usr/bin/prlimit", "usr/bin/env", "bin/kill", "bin/mv", "bin/rmdir", "bin/sleep",
        "bin/true", "opt/java/bin/java")) {
      assertThat(rootfs.resolve(tool)).as(tool).exists();
    }
    assertThat(Files.readString(rootfs.resolve("etc/passwd"))).contains("outpost:x:10001:10001:");

    // The image's environment and entrypoint, in a root of its own, as its user, with nothing
    // of the host (no host java: JAVA_HOME and the libraries must come from the image).
    List<String> command = new ArrayList<>(List.of(bwrap.toString(),
        "--bind", rootfs.toString(), "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--unshare-all", "--uid", "10001", "--gid", "10001", "--chdir", c.get("WorkingDir").asText(),
        "--clearenv"));
    env(c).forEach((k, v) -> command.addAll(List.of("--setenv", k, v)));
    command.add("--");
    command.addAll(strings(c.get("Entrypoint")));
    command.add("--version");
    Proc.Result r = Proc.run(command);

    assertThat(r.exitCode()).as(r.describe()).isZero();
    assertThat(r.stdout()).as(r.describe()).startsWith(Artifacts.versionLine());
  }

  @Test
  void dockerfile_isMultiStage_nonRoot_withDataVolume_andFetchesNoTerraform() throws Exception {
    List<String> lines = instructions(Files.readString(DOCKERFILE));

    assertThat(lines.stream().filter(l -> l.startsWith("FROM "))).hasSizeGreaterThanOrEqualTo(2);
    String last = lines.stream().filter(l -> l.startsWith("USER ")).reduce((a, b) -> b)
        .orElseThrow(() -> new AssertionError("the Dockerfile sets no USER"));
    assertThat(last).isEqualTo("USER 10001:10001");
    assertThat(lines).contains("VOLUME /data",
        "ENTRYPOINT [\"/opt/outpost/bin/outpost-agent\"]", "CMD [\"run\"]");
    assertThat(lines).anyMatch(l -> l.startsWith("ENV ") && l.contains("OUTPOST_STATE_DIR=/data/state")
        && l.contains("OUTPOST_WORK_DIR=/data/work") && l.contains("JAVA_HOME=/opt/java")
        && l.contains("JAVA_OPTS=@/opt/outpost/conf/jvm.options"));
    assertThat(lines).anyMatch(l -> l.startsWith("FROM debian:bookworm-slim")
        || l.equals("FROM ${DEBIAN}"));
    assertThat(lines).anyMatch(l -> l.contains("apt-get install") && l.contains("bubblewrap")
        && l.contains("util-linux") && l.contains("ca-certificates"));
    assertThat(lines).noneMatch(l -> l.startsWith("ADD ") && l.contains("://"));
    for (String l : lines) {
      // Terraform is never fetched; OpenTofu only when its build argument is given.
      assertThat(l).as("instruction %s", l).doesNotContainPattern("(?i)hashicorp|terraform_");
      if (l.matches("RUN .*\\b(curl|wget)\\b.*")) {
        assertThat(l).as("a download outside the OpenTofu build argument")
            .contains("if [ -n \"$OPENTOFU_VERSION\" ]").contains("sha256sum -c");
      }
    }
  }

  /** The Dockerfile's instructions, one per line: continuations joined, comments dropped. */
  private static List<String> instructions(String dockerfile) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    for (String raw : dockerfile.split("\n")) {
      String line = raw.strip();
      if (line.startsWith("#") || (line.isEmpty() && cur.length() == 0)) {
        continue;
      }
      if (line.endsWith("\\")) {
        cur.append(line, 0, line.length() - 1).append(' ');
      } else {
        cur.append(line);
        out.add(cur.toString().replaceAll("\\s+", " ").strip());
        cur.setLength(0);
      }
    }
    return out;
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static Map<String, String> env(JsonNode containerConfig) {
    Map<String, String> env = new HashMap<>();
    Pattern kv = Pattern.compile("([^=]+)=(.*)", Pattern.DOTALL);
    containerConfig.get("Env").forEach(n -> {
      Matcher m = kv.matcher(n.asText());
      if (m.matches()) {
        env.put(m.group(1), m.group(2));
      }
    });
    return env;
  }
}
