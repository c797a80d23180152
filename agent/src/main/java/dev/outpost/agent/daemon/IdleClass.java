package dev.outpost.agent.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Linux's idle scheduling class (SCHED_IDLE) for a thread of this JVM: beside ordinary threads
 * such a thread weighs 3 against 1,024, so it runs almost only on CPU no ordinary thread wants,
 * and any ordinary thread that wakes up takes the CPU from it at once.
 *
 * <p>The JDK has no call for it, so a thread is moved with util-linux's {@code chrt}, which a
 * thread of this class's own starts for it. There is no way back for an unprivileged process,
 * and whatever such a thread starts (threads, processes) inherits the class: only threads that
 * start nothing may enter it.
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
   * Starts and waits for {@code chrt} on behalf of the threads that enter. The JDK makes the
   * thread that waits for a process (its "process reaper", kept for later processes such as
   * Terraform's) from the thread that starts the process, just after the start: had the
   * entering thread started chrt itself, chrt could have moved it into the idle class first,
   * and the new reaper would have inherited the class. This thread never enters the class, and
   * it is made by the first thread that enters, which is then still in the normal class.
   */
  private static final ExecutorService CHRT = Executors.newSingleThreadExecutor(task -> {
    Thread t = new Thread(task, "idle-class-chrt");
    t.setDaemon(true);
    return t;
  });

  /**
   * As {@link #enter()}, with the given {@code chrt} program. A thread already in the class (one
   * an idle thread started) starts no {@code chrt}.
   */
  static void enter(String program) throws IOException {
    if (policy() == SCHED_IDLE) {
      return;
    }
    String tid = Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString();
    Future<Void> moved = CHRT.submit(() -> {
      chrt(program, tid);
      return null;
    });
    // Waited for even when interrupted (chrt ends within 10 s): the thread's class is then
    // known when this returns, not changed later behind its back.
    boolean interrupted = false;
    try {
      while (true) {
        try {
          moved.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io
          : new IOException("chrt --idle failed: " + e.getCause(), e.getCause());
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    int policy = policy();
    if (policy != SCHED_IDLE) {
      throw new IOException("chrt --idle ran, but the thread's scheduling policy is " + policy);
    }
  }

  /** Runs {@code chrt --idle} on thread {@code tid}, on the {@link #CHRT} thread. */
  private static void chrt(String program, String tid) throws IOException {
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
  }

  /** The calling thread's scheduling policy: field 41 of /proc/thread-self/stat. */
  public static int policy() throws IOException {
    return policy(Path.of("/proc/thread-self/stat"));
  }

  /** The scheduling policy in a thread's {@code stat} file (field 41). */
  static int policy(Path statFile) throws IOException {
    String stat = Files.readString(statFile);
    // The fields after the command name, which is in parentheses and may hold spaces, start
    // with field 3 (the state).
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
    if (fields.length < 39) {
      throw new IOException(statFile + " has no policy field");
    }
    return Integer.parseInt(fields[41 - 3]);
  }
}
