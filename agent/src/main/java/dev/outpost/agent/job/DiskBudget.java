package dev.outpost.agent.job;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
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
    long[] total = {0};
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
          total[0] += BLOCK;
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          total[0] += Math.max(BLOCK, (attrs.size() + BLOCK - 1) / BLOCK * BLOCK);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path file, IOException e) {
          return FileVisitResult.CONTINUE; // deleted during the walk, or unreadable: not ours
        }
      });
    } catch (NoSuchFileException e) {
      return 0;
    } catch (IOException e) {
      // walkFileTree reports per-entry failures to the visitor; this is the root itself
      return total[0];
    }
    return total[0];
  }

  private static long mib(long bytes) {
    return (bytes + (1 << 20) - 1) >> 20;
  }
}
