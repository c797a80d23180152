package dev.outpost.bench;

import dev.outpost.stub.pki.Pem;
import dev.outpost.stub.pki.PkiFiles;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The control-plane stub as its own process ({@code serve} on loopback, ports picked by the
 * kernel), so that its memory is its own: VmRSS from /proc, and heap used after a full GC
 * through jcmd.
 */
final class StubProcess implements AutoCloseable {
  /** "total 262144K, used 23456K": one line per heap space in jcmd's GC.heap_info. */
  private static final Pattern HEAP_USED = Pattern.compile("total \\d+K, used (\\d+)K");

  private final Process process;
  private final String agentTarget;
  private final String adminTarget;
  private final String adminToken;

  private StubProcess(Process process, String agentTarget, String adminTarget, String token) {
    this.process = process;
    this.agentTarget = agentTarget;
    this.adminTarget = adminTarget;
    this.adminToken = token;
  }

  /**
   * Creates a data directory (PKI, admin token) and starts the stub on it: from {@code stubJar}
   * when given, else from this JVM's class path. {@code jvmFlags} go before the main class.
   */
  static StubProcess start(Path dataDir, Path stubJar, String store, List<String> jvmFlags)
      throws IOException, InterruptedException {
    PkiFiles pki = new PkiFiles(dataDir.resolve("pki"));
    pki.init("Outpost scale bench CA", List.of("localhost", "127.0.0.1"));
    String token = "bench-admin-token-" + System.nanoTime();
    Pem.writeAtomically(dataDir.resolve("admin.token"), token + "\n", true);

    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    command.addAll(jvmFlags);
    if (stubJar != null) {
      command.addAll(List.of("-jar", stubJar.toString()));
    } else {
      command.addAll(List.of("-cp", System.getProperty("java.class.path"),
          "dev.outpost.stub.cli.StubMain"));
    }
    command.addAll(List.of("serve", "--data-dir", dataDir.toString(), "--store", store,
        "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"));
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dataDir.resolve("stub.log").toFile()).start();
    try {
      Properties endpoints = awaitEndpoints(dataDir.resolve("endpoints"), process,
          dataDir.resolve("stub.log"));
      return new StubProcess(process, endpoints.getProperty("agent"),
          endpoints.getProperty("admin"), token);
    } catch (IOException | InterruptedException | RuntimeException e) {
      process.destroyForcibly();
      throw e;
    }
  }

  /** The stub writes its endpoints file (atomically) once both listeners are up. */
  private static Properties awaitEndpoints(Path file, Process process, Path log)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (Files.exists(file)) {
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file)));
        return p;
      }
      if (!process.isAlive()) {
        throw new IllegalStateException("the stub exited with " + process.exitValue() + ": "
            + Files.readString(log));
      }
      Thread.sleep(10);
    }
    throw new IllegalStateException("the stub did not listen within 60 s: " + Files.readString(log));
  }

  String agentTarget() {
    return agentTarget;
  }

  int agentPort() {
    return Integer.parseInt(agentTarget.substring(agentTarget.lastIndexOf(':') + 1));
  }

  String adminTarget() {
    return adminTarget;
  }

  String adminToken() {
    return adminToken;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** VmRSS, the resident set now, in KiB. */
  long rssKiB() throws IOException {
    return statusKiB("VmRSS:");
  }

  /** VmHWM, the highest resident set so far, in KiB. */
  long peakRssKiB() throws IOException {
    return statusKiB("VmHWM:");
  }

  private long statusKiB(String field) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
      if (line.startsWith(field)) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("no " + field + " for pid " + pid());
  }

  /**
   * CPU time the stub used so far (user and system), in seconds. Assumes the kernel's usual 100
   * clock ticks per second, which Java cannot ask for.
   */
  double cpuSeconds() throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid()), "stat"));
    // Fields after the command name, which is in parentheses and may hold spaces.
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / 100.0;
  }

  /**
   * Heap in use after a full GC (what the stub holds, whatever the collector's sizing), in KiB;
   * -1 when jcmd cannot attach (a JRE without it, attach disabled).
   */
  long heapUsedAfterGcKiB() throws InterruptedException {
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    try {
      if (run(jcmd, "GC.run") == null) {
        return -1;
      }
      String info = run(jcmd, "GC.heap_info");
      if (info == null) {
        return -1;
      }
      long used = 0;
      boolean found = false;
      for (Matcher m = HEAP_USED.matcher(info); m.find(); found = true) {
        used += Long.parseLong(m.group(1));
      }
      return found ? used : -1;
    } catch (IOException e) {
      return -1;
    }
  }

  private String run(String jcmd, String what) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(jcmd, Long.toString(pid()), what).redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return null;
    }
    return p.exitValue() == 0 ? out : null;
  }

  /** SIGTERM (the stub's normal stop), then SIGKILL if it does not end. */
  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
