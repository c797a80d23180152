package dev.outpost.agent.workspace;

/**
 * Bounds on what one archive may unpack to; a gzip bomb hits one of them long before the disk.
 *
 * @param maxTotalBytes sum of all regular files' sizes
 * @param maxEntries entries of any kind
 * @param maxFileBytes one regular file
 * @param maxDepth path segments of one entry name
 */
public record ExtractionLimits(long maxTotalBytes, int maxEntries, long maxFileBytes, int maxDepth) {
  public ExtractionLimits {
    if (maxTotalBytes <= 0 || maxEntries <= 0 || maxFileBytes <= 0 || maxDepth <= 0) {
      throw new IllegalArgumentException("extraction limits must be positive, got "
          + maxTotalBytes + "/" + maxEntries + "/" + maxFileBytes + "/" + maxDepth);
    }
  }

  public static ExtractionLimits defaults() {
    return new ExtractionLimits(1L << 30, 100_000, 512L << 20, 64);
  }
}
