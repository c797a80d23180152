package dev.outpost.agent.job;

import dev.outpost.agent.workspace.Trees;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The disk budget of one job directory, measured while its Terraform commands run. Every file
 * and directory counts at least one 4 KiB block, so a flood of tiny files is charged for the
 * space and inodes it really takes.
 */
final class DiskBudget {
  static final long BLOCK = 4096;
  private static final Duration EVERY = Duration.ofMillis(500);

  private final Path dir;
  private final long maxBytes;
  private long nextCheck = Long.MIN_VALUE;

  /** @param maxBytes 0: no budget */
  DiskBudget(Path dir, long maxBytes) {
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  /**
   * Measures at most every 500 ms; returns the failure message once the directory uses more
   * than the budget, null otherwise.
   */
  String check() {
    if (maxBytes == 0 || System.nanoTime() < nextCheck) {
      return null;
    }
    nextCheck = System.nanoTime() + EVERY.toNanos();
    long used = usage(dir);
    return used > maxBytes ? "the job directory uses " + mib(used) + " MiB, more than its disk "
        + "budget of " + mib(maxBytes) + " MiB (--job-disk-budget); Terraform was stopped" : null;
  }

  /** Bytes in use below dir, each entry rounded up to whole blocks; entries vanishing meanwhile are skipped. */
  static long usage(Path dir) {
    return Trees.sum(dir, attrs -> attrs.isDirectory() ? BLOCK
        : Math.max(BLOCK, (attrs.size() + BLOCK - 1) / BLOCK * BLOCK));
  }

  private static long mib(long bytes) {
    return (bytes + (1 << 20) - 1) >> 20;
  }
}
