package dev.outpost.agent.daemon;

import io.netty.util.concurrent.FastThreadLocalThread;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Starts threads from a thread of its own, made when this object is, so that a new thread gets
 * that thread's scheduling class rather than the class of whichever thread asks for it.
 *
 * <p>Linux gives a new thread the scheduling class of the thread that starts it, and gRPC and
 * Netty start their threads lazily: an event loop when a connection is first placed on it, an
 * executor thread when every other one is busy, from whichever thread's call needs it. The log
 * senders make their calls from the idle class ({@link IdleClass}), and a thread started by one
 * would stay idle for good and serve the heartbeats and every other call from there. The
 * channel's threads are made by {@link #factory}, so they start in the class of the thread that
 * made this starter (the agent's main thread, normal).
 */
public final class ThreadStarter implements AutoCloseable {
  private final ThreadPoolExecutor starter;
  private final Thread starterThread;

  /** A starter whose thread is made now, by the calling thread, in that thread's class. */
  public ThreadStarter() {
    CompletableFuture<Thread> made = new CompletableFuture<>();
    starter = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
        task -> {
          Thread t = new Thread(task, "thread-starter");
          t.setDaemon(true);
          made.complete(t);
          return t;
        });
    starter.prestartCoreThread();
    starterThread = made.join();
  }

  /**
   * Daemon threads named {@code prefix-1}, {@code prefix-2}, ..., started from this starter's
   * thread whoever starts them. They are Netty's {@link FastThreadLocalThread}s, which Netty's
   * event loops and buffer caches expect.
   */
  public ThreadFactory factory(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread t = new Started(task, prefix + "-" + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  private final class Started extends FastThreadLocalThread {
    Started(Runnable task, String name) {
      super(task, name);
    }

    @Override
    public void start() {
      if (Thread.currentThread() == starterThread) {
        super.start();
        return;
      }
      CompletableFuture<Void> started = CompletableFuture.runAsync(super::start, starter);
      boolean interrupted = false;
      try {
        while (true) {
          try {
            started.get();
            return;
          } catch (InterruptedException e) {
            // Whether the thread starts must not depend on an interrupt: wait on.
            interrupted = true;
          } catch (java.util.concurrent.ExecutionException e) {
            throw unwrapped(e.getCause());
          }
        }
      } finally {
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /** Ends the starter's thread; threads asked for afterwards fail to start. */
  @Override
  public void close() {
    starter.shutdown();
  }

  /** What {@link Thread#start} threw on the starter's thread, to throw again on the caller's. */
  private static RuntimeException unwrapped(Throwable cause) {
    if (cause instanceof CompletionException c && c.getCause() != null) {
      cause = c.getCause();
    }
    if (cause instanceof RuntimeException r) {
      return r;
    }
    if (cause instanceof Error e) {
      throw e;
    }
    return new IllegalStateException(cause);
  }
}
