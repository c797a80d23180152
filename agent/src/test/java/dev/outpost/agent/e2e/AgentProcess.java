package dev.outpost.agent.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** The agent, started from its jar as a separate process; its output goes to a file. */
final class AgentProcess implements AutoCloseable {
  private final Process process;
  private final Path output;

  private AgentProcess(Process process, Path output) {
    this.process = process;
    this.output = output;
  }

  /** Options for a run: the minimum an agent needs, plus extra flags. */
  /**
   * Options for a run: the minimum an agent needs, plus extra flags. Without cert and key the
   * agent enrolls. The auth wait is short unless a test waits for new credentials.
   */
  record Options(String controlPlane, Path ca, Path cert, Path key, Path orgKeyFile,
      Path stateDir, Path workDir, List<String> extra) {

    List<String> arguments() {
      List<String> args = new ArrayList<>(List.of("run", "--control-plane", controlPlane,
          "--ca", ca.toString(), "--org-key-file", orgKeyFile.toString(),
          "--state-dir", stateDir.toString(), "--work-dir", workDir.toString(),
          "--cancel-grace", "PT1S"));
      // Generous by default: on a loaded 2-core machine a first TLS connection of a cold JVM
      // can take seconds. Tests of the unreachable case set their own.
      if (!extra.contains("--connect-timeout")) {
        args.addAll(List.of("--connect-timeout", "PT60S"));
      }
      if (cert != null) {
        args.addAll(List.of("--cert", cert.toString(), "--key", key.toString()));
      }
      // Tests stop agents with SIGTERM; without their own drain they interrupt at once, as a
      // stop did before draining existed.
      if (!extra.contains("--drain-timeout")) {
        args.addAll(List.of("--drain-timeout", "PT0S"));
      }
      if (!extra.contains("--auth-wait")) {
        args.addAll(List.of("--auth-wait", "PT1S"));
      }
      args.addAll(extra);
      return args;
    }
  }

  static AgentProcess start(Options options, Path output) throws IOException {
    return start(options, output, java.util.Map.of());
  }

  static AgentProcess start(Options options, Path output, java.util.Map<String, String> env)
      throws IOException {
    List<String> command = new ArrayList<>(List.of(Jars.java(), "-jar", Jars.agent().toString()));
    command.addAll(options.arguments());
    return start(command, output, env);
  }

  /**
   * Under the launcher {@code packaging/bin/outpost-agent}, which supervises the JVM (restarts
   * it when it dies abnormally) as systemd or a container runtime would run it.
   */
  static AgentProcess startSupervised(Options options, Path output,
      java.util.Map<String, String> env) throws IOException {
    List<String> command = new ArrayList<>(List.of(
        Jars.repoRoot().resolve("packaging/bin/outpost-agent").toString()));
    command.addAll(options.arguments());
    java.util.Map<String, String> withJar = new java.util.HashMap<>(env);
    withJar.put("OUTPOST_AGENT_JAR", Jars.agent().toString());
    withJar.put("JAVA_HOME", Path.of(Jars.java()).getParent().getParent().toString());
    return start(command, output, withJar);
  }

  static AgentProcess start(List<String> command, Path output) throws IOException {
    return start(command, output, java.util.Map.of());
  }

  static AgentProcess start(List<String> command, Path output, java.util.Map<String, String> env)
      throws IOException {
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(output.toFile());
    // Several agents run side by side in one test: each gets a free port for its ops
    // endpoints. The tests read the human log format unless one asks for JSON.
    builder.environment().put("OUTPOST_OPS_ADDRESS", "127.0.0.1:0");
    builder.environment().put("OUTPOST_LOG_FORMAT", "human");
    builder.environment().putAll(env);
    // A variable that must never reach a job: the tests look for it in job logs.
    builder.environment().put("OUTPOST_TEST_CANARY", "agent-env-canary-7f3a");
    return new AgentProcess(builder.start(), output);
  }

  Optional<Integer> awaitExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)
        ? Optional.of(process.exitValue()) : Optional.empty();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  long pid() {
    return process.pid();
  }

  /** The agent's JVM: this process, or under the launcher its java child. */
  Optional<ProcessHandle> jvm() {
    if (process.info().command().orElse("").endsWith("java")) {
      return Optional.of(process.toHandle());
    }
    return process.children().filter(c -> c.info().command().orElse("").endsWith("java"))
        .findFirst();
  }

  /** Sends a signal (by name, e.g. "HUP") to this process. */
  void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-s", name, Long.toString(process.pid()))
        .inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IOException("kill -s " + name + " " + process.pid() + " failed");
    }
  }

  /** SIGTERM, without waiting: the agent drains. */
  void terminate() {
    process.destroy();
  }

  /** SIGKILL to this process alone (under the launcher, the JVM lives on). */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  String output() throws IOException {
    return Files.exists(output) ? Files.readString(output) : "";
  }

  /** SIGTERM and wait; the agent drains and exits on its own. */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
