package dev.outpost.bench;

import dev.outpost.agent.daemon.IdleClass;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

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
 * <p>A thread moves itself into the class when it starts ({@link IdleClass}, as the agent's log
 * readers do); {@link #check()} fails the benchmark up front when that does not work, rather
 * than let it measure something else.
 */
final class IdleThreads extends DefaultThreadFactory {
  IdleThreads(String name) {
    super(name, true);
  }

  @Override
  public Thread newThread(Runnable r) {
    return super.newThread(() -> {
      try {
        IdleClass.enter();
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
    CompletableFuture<Void> entered = new CompletableFuture<>();
    Thread probe = new Thread(() -> {
      try {
        IdleClass.enter();
        entered.complete(null);
      } catch (IOException e) {
        entered.completeExceptionally(e);
      }
    }, "idle-probe");
    probe.start();
    try {
      entered.get();
    } catch (ExecutionException e) {
      throw new IllegalStateException("bench: cannot run the control plane's threads at idle "
          + "priority: " + e.getCause().getMessage(), e.getCause());
    }
  }
}
