package dev.outpost.agent.daemon;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * The pause between two looks at something expected soon (a pid file, an exit status, a file
 * being written): 1 ms at first, doubling up to a cap, and back to the start when what is
 * watched moved. What ends at once is seen within a millisecond or two; what takes long costs
 * one look per cap. Not thread-safe: one per waiting loop.
 */
public final class Pace {
  private static final long FIRST_NANOS = Duration.ofMillis(1).toNanos();
  private final long capNanos;
  private long nextNanos = FIRST_NANOS;

  public Pace(Duration cap) {
    this.capNanos = Math.max(FIRST_NANOS, cap.toNanos());
  }

  /** Sleeps for the current pause, then doubles it (up to the cap). */
  public void pause() throws InterruptedException {
    long end = System.nanoTime() + nextNanos;
    for (long left = nextNanos; left > 0; left = end - System.nanoTime()) {
      LockSupport.parkNanos(left);
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
    }
    nextNanos = Math.min(capNanos, nextNanos * 2);
  }

  /** The next pause is the shortest again: the watched thing just moved. */
  public void reset() {
    nextNanos = FIRST_NANOS;
  }
}
