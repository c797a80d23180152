package dev.outpost.agent.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Linux's idle scheduling class (SCHED_IDLE) for a thread of this JVM: beside ordinary threads
 * such a thread weighs 3 against 1,024, so it runs almost only on CPU no ordinary thread wants,
 * and any ordinary thread that wakes up takes the CPU from it at once.
 *
 * <p>The JDK has no call for it, so a thread moves itself with util-linux's {@code chrt}.
 * There is no way back for an unprivileged process, and whatever such a thread starts (threads,
 * processes) inherits the class: only threads that start nothing may enter it.
 */
public final class IdleClass {
  /** The policy number of SCHED_IDLE. */
  public static final int SCHED_IDLE = 5;

  private IdleClass() {}

  /** A way to move the calling thread into the idle class ({@link #enter()}). */
  @FunctionalInterface
  public interface Entry {
    void enter() throws IOException;
  }

  /**
   * Moves the calling thread into the idle class; throws with the reason when it cannot (no
   * {@code chrt}, a system call filter that refuses it).
   */
  public static void enter() throws IOException {
    enter("chrt");
  }

  /**
   * As {@link #enter()}, with the given {@code chrt} program. A thread already in the class (one
   * an idle thread started) starts no {@code chrt}: a process it started would make the JDK's
   * process reaper thread that waits for it in the idle class too.
   */
  static void enter(String program) throws IOException {
    if (policy() == SCHED_IDLE) {
      return;
    }
    String tid = Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString();
    Process chrt;
    try {
      chrt = new ProcessBuilder(program, "--idle", "--pid", "0", tid).redirectErrorStream(true)
          .start();
    } catch (IOException e) {
      throw new IOException("cannot run chrt (util-linux): " + e.getMessage(), e);
    }
    try {
      if (!chrt.waitFor(10, TimeUnit.SECONDS)) {
        chrt.destroyForcibly();
        throw new IOException("chrt --idle did not end within 10 s");
      }
    } catch (InterruptedException e) {
      chrt.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for chrt --idle", e);
    }
    String output = new String(chrt.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
        .trim();
    if (chrt.exitValue() != 0) {
      throw new IOException("chrt --idle --pid 0 " + tid + " exited with " + chrt.exitValue()
          + (output.isEmpty() ? "" : ": " + output));
    }
    int policy = policy();
    if (policy != SCHED_IDLE) {
      throw new IOException("chrt --idle ran, but the thread's scheduling policy is " + policy);
    }
  }

  /** The calling thread's scheduling policy: field 41 of /proc/thread-self/stat. */
  public static int policy() throws IOException {
    String stat = Files.readString(Path.of("/proc/thread-self/stat"));
    // The fields after the command name, which is in parentheses and may hold spaces, start
    // with field 3 (the state).
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
    if (fields.length < 39) {
      throw new IOException("/proc/thread-self/stat has no policy field");
    }
    return Integer.parseInt(fields[41 - 3]);
  }
}
