package dev.outpost.agent.sandbox;

/**
 * Resource limits of one sandboxed command; a null field is not set. Open files, file size and
 * core size are rlimits applied inside the sandbox (prlimit, before exec); processes and memory
 * need a cgroup, since RLIMIT_NPROC does not bind root and RLIMIT_AS breaks Go programs.
 *
 * @param openFiles RLIMIT_NOFILE, soft and hard
 * @param fileSizeBytes RLIMIT_FSIZE: a write beyond it fails with SIGXFSZ/EFBIG
 * @param coreSizeBytes RLIMIT_CORE; 0 turns core dumps off
 * @param processes cgroup pids.max: processes and threads of the whole sandbox
 * @param memoryBytes cgroup memory limit (v1 memory.limit_in_bytes, v2 memory.max)
 * @param cpuMillis cgroup CPU quota in thousandths of a core per 100 ms period (v1
 *     cpu.cfs_quota_us, v2 cpu.max): 1500 is one and a half cores
 */
public record SandboxLimits(Long openFiles, Long fileSizeBytes, Long coreSizeBytes,
    Long processes, Long memoryBytes, Long cpuMillis) {

  public static final SandboxLimits NONE = new SandboxLimits(null, null, null, null, null, null);

  public SandboxLimits {
    positive("openFiles", openFiles, 16);
    positive("fileSizeBytes", fileSizeBytes, 1);
    positive("coreSizeBytes", coreSizeBytes, 0);
    positive("processes", processes, 8);
    positive("memoryBytes", memoryBytes, 16L << 20);
    positive("cpuMillis", cpuMillis, 10);
  }

  /** Without a CPU quota. */
  public SandboxLimits(
      Long openFiles, Long fileSizeBytes, Long coreSizeBytes, Long processes, Long memoryBytes) {
    this(openFiles, fileSizeBytes, coreSizeBytes, processes, memoryBytes, null);
  }

  /** What a job gets unless the operator says otherwise; memory and CPU are left to the operator. */
  public static SandboxLimits defaults() {
    return new SandboxLimits(4096L, 1L << 30, 0L, 1024L, null, null);
  }

  boolean anySet() {
    return !equals(NONE);
  }

  private static void positive(String name, Long value, long min) {
    if (value != null && value < min) {
      throw new IllegalArgumentException(
          "sandbox limit " + name + " is " + value + "; allowed: at least " + min + " or unset");
    }
  }

  static String bytes(long n) {
    return dev.outpost.agent.ops.ByteSize.format(n);
  }
}
