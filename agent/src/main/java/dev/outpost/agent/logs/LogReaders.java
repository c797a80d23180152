package dev.outpost.agent.logs;

import dev.outpost.agent.daemon.IdleClass;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads that follow the output files of running commands ({@link LogPipeline#follow}) and
 * send each job's log: reading, redacting and parsing every line Terraform writes, and then
 * encoding and sending it, is most of the CPU the agent spends on a job with a busy log.
 *
 * <p>With {@code --log-priority idle} (the default) these threads run in Linux's idle
 * scheduling class ({@link IdleClass}), so that this work takes only CPU that Terraform and the
 * rest of the machine leave: where CPU is to spare, lines arrive as fast as at normal priority;
 * where Terraform keeps every core busy, they wait in the output files and in the job's journal
 * (nothing is lost) and go out when it leaves some: with one job, at the latest when the
 * command ends; where other work keeps every core busy for long, the log (and so the job's end)
 * lags behind, and {@code --log-priority normal} is the better choice. The
 * job's own thread keeps the normal class: it starts Terraform, which would inherit the idle
 * class from the thread that starts it, and it watches the command (stage timeout, disk budget,
 * log limit) while a reader follows it. The log goes to the control plane over a channel of its
 * own, whose threads (encrypting and writing it) join the idle class too ({@link
 * dev.outpost.agent.daemon.ControlPlaneClient}); the agent's other threads keep the normal
 * class: heartbeats, the job's other calls, and the main channel's threads.
 */
public final class LogReaders {
  private static final Logger log = LoggerFactory.getLogger(LogReaders.class);

  /** What a reader runs: {@link LogPipeline#follow} for one command. */
  public interface Follow {
    void run() throws IOException, InterruptedException;
  }

  private final boolean idle;
  private final IdleClass.Entry entry;
  private final AtomicBoolean told = new AtomicBoolean();
  /**
   * One thread per command being followed. Threads are made by the job threads that hand the
   * work over (normal class) and each moves itself into the idle class before its first task;
   * an unused one is kept for ten minutes, so that a steady flow of jobs does not start
   * {@code chrt} for each.
   */
  private final ExecutorService threads = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 10,
      TimeUnit.MINUTES, new SynchronousQueue<>(), this::newThread);

  /** @param idle whether the readers run in the idle scheduling class */
  public LogReaders(boolean idle) {
    this(idle, IdleClass::enter);
  }

  /** With {@code entry} moving a reader into the idle class (tests: one that fails). */
  LogReaders(boolean idle, IdleClass.Entry entry) {
    this.idle = idle;
    this.entry = entry;
  }

  private Thread newThread(Runnable task) {
    Thread t = new Thread(() -> {
      if (idle) {
        enterIdleClass();
      }
      task.run();
    }, "log-reader");
    t.setDaemon(true);
    return t;
  }

  /**
   * With {@code --log-priority idle}, moves the calling thread, one that sends job logs (a
   * job's sender, a thread of the log channel), into the idle class: whatever threads it
   * starts join it there.
   */
  public void enterForSending() {
    if (idle) {
      enterIdleClass();
    }
  }

  private void enterIdleClass() {
    try {
      entry.enter();
      if (told.compareAndSet(false, true)) {
        log.info("log readers and senders run in the idle scheduling class "
            + "(--log-priority idle)");
      }
    } catch (IOException e) {
      if (told.compareAndSet(false, true)) {
        log.warn("log readers and senders run at normal priority: they cannot enter the idle "
            + "scheduling class ({}); --log-priority normal skips the attempt", e.getMessage());
      }
    }
  }

  /**
   * Runs {@code follow} on a reader thread and waits for it to end, running {@code watch} on
   * the calling thread every {@code every} meanwhile. What {@code follow} throws is thrown
   * here. When the wait ends any other way (the caller is interrupted, {@code watch} throws),
   * the reader is interrupted and this returns only once it has stopped: no file of the
   * command is read after this returns.
   */
  public void follow(Follow follow, Runnable watch, Duration every)
      throws IOException, InterruptedException {
    Reading reading = new Reading(follow);
    threads.execute(reading);
    boolean done = false;
    try {
      while (true) {
        try {
          reading.result.get(every.toNanos(), TimeUnit.NANOSECONDS);
          done = true;
          return;
        } catch (TimeoutException stillReading) {
          watch.run();
        }
      }
    } catch (ExecutionException e) {
      done = true;
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      if (cause instanceof InterruptedException interrupted) {
        throw interrupted;
      }
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException(cause);
    } finally {
      if (!done) {
        reading.stop();
      }
    }
  }

  /** One command followed on a reader thread. */
  private static final class Reading implements Runnable {
    private final Follow follow;
    final CompletableFuture<Void> result = new CompletableFuture<>();
    private Thread thread;
    private boolean stopped;

    Reading(Follow follow) {
      this.follow = follow;
    }

    @Override
    public void run() {
      synchronized (this) {
        if (stopped) {
          result.cancel(false);
          return;
        }
        thread = Thread.currentThread();
      }
      try {
        follow.run();
        result.complete(null);
      } catch (Throwable t) {
        result.completeExceptionally(t);
      } finally {
        synchronized (this) {
          thread = null;
          Thread.interrupted(); // a stop() that came too late is not the next task's
        }
      }
    }

    /** Interrupts the reader (or keeps it from starting) and waits until it has stopped. */
    void stop() {
      synchronized (this) {
        stopped = true;
        if (thread != null) {
          thread.interrupt();
        }
      }
      try {
        result.join(); // not interruptible: the caller's interrupt stays set
      } catch (CancellationException | CompletionException ended) {
        // stopped before it began, or ended with what interrupting it threw
      }
    }
  }
}
