package dev.outpost.bench;

import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Threads that run in Linux's idle scheduling class (SCHED_IDLE): beside ordinary threads they
 * weigh 3 against 1,024, so they run almost only when no ordinary thread wants the CPU, and a
 * waking one never preempts an ordinary thread.
 *
 * <p>The whole-process benchmarks host the control plane in their own JVM, on the same two
 * cores as Terraform and the agent, where a real control plane runs on machines of its own.
 * Its threads are made here: the work it does for a job (TLS, HTTP/2, reading and storing
 * every log entry) still has to be done before the job's result is stored, which is where an
 * agent job's time ends, but it is done with CPU that Terraform and the agent leave, instead
 * of taking it from them. In alternating rounds of one run of 200,000-line applies, the median
 * ratio of agent to bare was 1.35 with the control plane at normal priority and 1.05 with it in
 * the idle class (seven rounds each).
 *
 * <p>A thread moves itself into the class when it starts, with util-linux's {@code chrt} (the
 * JDK has no call for it); {@link #check()} fails the benchmark up front when that does not
 * work, rather than let it measure something else.
 */
final class IdleThreads extends DefaultThreadFactory {
  /** The scheduling policy number the kernel shows for SCHED_IDLE. */
  static final int SCHED_IDLE = 5;

  IdleThreads(String name) {
    super(name, true);
  }

  @Override
  public Thread newThread(Runnable r) {
    return super.newThread(() -> {
      try {
        enterIdleClass();
      } catch (IOException e) {
        // check() proved it works; a thread that cannot follow still does its work.
        System.err.println("bench: a control-plane thread stays at normal priority: "
            + e.getMessage());
      }
      r.run();
    });
  }

  /** Fails when a thread cannot move itself into the idle class on this machine. */
  static void check() throws Exception {
    int[] policy = new int[1];
    Exception[] failure = new Exception[1];
    Thread probe = new Thread(() -> {
      try {
        enterIdleClass();
        policy[0] = currentPolicy();
      } catch (IOException e) {
        failure[0] = e;
      }
    }, "idle-probe");
    probe.start();
    probe.join();
    if (failure[0] != null) {
      throw new IllegalStateException("bench: cannot run the control plane's threads at idle "
          + "priority (util-linux chrt): " + failure[0].getMessage(), failure[0]);
    }
    if (policy[0] != SCHED_IDLE) {
      throw new IllegalStateException("bench: chrt ran, but the probe thread's policy is "
          + policy[0] + ", not SCHED_IDLE");
    }
  }

  /** Moves the calling thread into SCHED_IDLE. */
  static void enterIdleClass() throws IOException {
    String tid = Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString();
    Process chrt = new ProcessBuilder("chrt", "--idle", "--pid", "0", tid)
        .redirectErrorStream(true).start();
    try {
      if (!chrt.waitFor(10, TimeUnit.SECONDS)) {
        chrt.destroyForcibly();
        throw new IOException("chrt did not end within 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for chrt", e);
    }
    if (chrt.exitValue() != 0) {
      throw new IOException("chrt --idle --pid 0 " + tid + " failed: "
          + new String(chrt.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim());
    }
  }

  /** The calling thread's scheduling policy, as /proc/thread-self/sched shows it. */
  static int currentPolicy() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/thread-self/sched"))) {
      if (line.startsWith("policy")) {
        return Integer.parseInt(line.substring(line.indexOf(':') + 1).trim());
      }
    }
    throw new IOException("no policy line in /proc/thread-self/sched");
  }
}
