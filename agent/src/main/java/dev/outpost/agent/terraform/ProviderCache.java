package dev.outpost.agent.terraform;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Terraform's plugin cache ({@code TF_PLUGIN_CACHE_DIR}) shared by every job on this host.
 * Terraform's own cache is not safe for concurrent writers (an install rewrites a cached binary
 * in place), so writers are serialized: a job holds the {@link Lease} for the whole of its
 * {@code init}, which runs no configuration code and is the only stage that sees the cache
 * writable; plan, apply and show see it read-only.
 *
 * <p>The lock is an OS file lock on {@code .outpost/lock} inside the cache, so it also
 * serializes agents in other processes; a semaphore serializes this JVM first, because one JVM
 * may not hold two overlapping {@link FileLock}s. Every acquisition and release is appended to
 * {@code .outpost/locks.log} while the lock is held, so the file's order is the lock's order.
 *
 * <p>Eviction runs only while the lock is held (at the end of every lease): entries unused for
 * longer than {@code evictUnusedAfter} go, then the least recently used until the cache fits
 * {@code maxBytes}. Last use is bookkept in {@code .outpost/usage.properties}, never from atime.
 */
public final class ProviderCache {
  static final String META = ".outpost";
  static final String LOCK_LOG = "locks.log";
  /** Past this the log is rotated to locks.log.1 (one generation kept). */
  private static final long LOCK_LOG_MAX_BYTES = 1 << 20;
  /**
   * A job that initialised from an entry may still be planning or applying with it, and a later
   * stage starts the provider again from the cache: entries used this recently are never evicted,
   * even over budget.
   */
  static final Duration IN_USE_GRACE = Duration.ofHours(24);
  private static final Logger log = LoggerFactory.getLogger(ProviderCache.class);
  private static final Map<Path, Semaphore> IN_PROCESS = new ConcurrentHashMap<>();
  private static final AtomicLong SEQUENCE = new AtomicLong();

  private final Path dir;
  private final Path meta;
  private final long maxBytes;
  private final Duration evictUnusedAfter;
  private final Clock clock;
  private final Semaphore inProcess;

  /**
   * @param dir created if missing; used at its real path, which is also its path inside the
   *     sandbox (Terraform links into it with absolute paths)
   * @param maxBytes the size budget of the provider entries
   * @param evictUnusedAfter entries unused this long are removed at the next lease's end
   */
  public ProviderCache(Path dir, long maxBytes, Duration evictUnusedAfter, Clock clock)
      throws IOException {
    if (maxBytes <= 0) {
      throw new IllegalArgumentException("provider cache maxBytes must be positive, got " + maxBytes);
    }
    if (evictUnusedAfter.isNegative() || evictUnusedAfter.isZero()) {
      throw new IllegalArgumentException(
          "provider cache evictUnusedAfter must be positive, got " + evictUnusedAfter);
    }
    Files.createDirectories(dir);
    this.dir = dir.toRealPath();
    this.meta = Files.createDirectories(this.dir.resolve(META));
    this.maxBytes = maxBytes;
    this.evictUnusedAfter = evictUnusedAfter;
    this.clock = clock;
    this.inProcess = IN_PROCESS.computeIfAbsent(this.dir, d -> new Semaphore(1, true));
  }

  public Path dir() {
    return dir;
  }

  /** Blocks until this caller is the only writer, in this JVM and across processes. */
  public Lease lockForInit() throws IOException, InterruptedException {
    inProcess.acquire();
    FileChannel channel = null;
    try {
      channel = FileChannel.open(meta.resolve("lock"), StandardOpenOption.CREATE,
          StandardOpenOption.WRITE);
      FileLock lock = channel.lock();
      Lease lease = new Lease(channel, lock,
          ProcessHandle.current().pid() + "-" + SEQUENCE.incrementAndGet());
      appendLockEvent("acquired", lease.holder);
      return lease;
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        channel.close();
      }
      inProcess.release();
      throw e;
    }
  }

  /** Takes the lock and evicts what the budget and the age limit say must go. */
  public void evict() throws IOException, InterruptedException {
    lockForInit().close();
  }

  /** Every acquisition and release since the log was last rotated, in lock order. */
  public List<LockEvent> lockRecord() throws IOException {
    Path file = meta.resolve(LOCK_LOG);
    if (!Files.exists(file)) {
      return List.of();
    }
    List<LockEvent> events = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String[] f = line.split(" ");
      if (f.length == 3) {
        events.add(new LockEvent(Instant.parse(f[0]), f[2], f[1].equals("acquired")));
      }
    }
    return events;
  }

  /** One line of the lock record; holder is "pid-sequence". */
  public record LockEvent(Instant at, String holder, boolean acquired) {}

  private void appendLockEvent(String what, String holder) throws IOException {
    Path file = meta.resolve(LOCK_LOG);
    if (Files.exists(file) && Files.size(file) > LOCK_LOG_MAX_BYTES) {
      Files.move(file, meta.resolve(LOCK_LOG + ".1"), StandardCopyOption.REPLACE_EXISTING);
    }
    Files.writeString(file, clock.instant() + " " + what + " " + holder + "\n",
        StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
        StandardOpenOption.SYNC);
  }

  private void evictLocked() throws IOException {
    Path usageFile = meta.resolve("usage.properties");
    Map<String, Instant> usage = CacheInventory.readUsage(usageFile);
    List<CacheInventory.Entry> entries = CacheInventory.scan(dir, usage);
    Instant now = clock.instant();
    Duration grace = evictUnusedAfter.compareTo(IN_USE_GRACE) < 0 ? evictUnusedAfter : IN_USE_GRACE;
    for (CacheInventory.Entry e
        : CacheInventory.toEvict(entries, maxBytes, now, evictUnusedAfter, grace)) {
      log.info("provider cache: evicting {} ({} bytes, last used {})", e.key(), e.bytes(),
          e.lastUsed());
      CacheInventory.delete(dir, e);
      usage.remove(e.key());
    }
    usage.keySet().retainAll(entries.stream().map(CacheInventory.Entry::key).toList());
    CacheInventory.writeUsage(usageFile, usage);
  }

  private void recordUseLocked(Path workingDir) throws IOException {
    Path usageFile = meta.resolve("usage.properties");
    Map<String, Instant> usage = CacheInventory.readUsage(usageFile);
    for (String key : CacheInventory.linkedFrom(workingDir, dir)) {
      usage.put(key, clock.instant());
    }
    CacheInventory.writeUsage(usageFile, usage);
  }

  /**
   * The writer's lock. Closing it (idempotent, from any thread) records which entries the
   * working directory links to, evicts, and releases the lock.
   */
  public final class Lease implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;
    private final String holder;
    private final AtomicBoolean open = new AtomicBoolean(true);
    private volatile Path workingDir;

    private Lease(FileChannel channel, FileLock lock, String holder) {
      this.channel = channel;
      this.lock = lock;
      this.holder = holder;
    }

    public String holder() {
      return holder;
    }

    /** At close, the providers this directory's {@code .terraform} links to count as used now. */
    public Lease usedBy(Path workingDir) {
      this.workingDir = workingDir.toAbsolutePath();
      return this;
    }

    public boolean isHeld() {
      return open.get();
    }

    /** Never throws: a bookkeeping failure is logged, and the lock is released regardless. */
    @Override
    public void close() {
      if (!open.compareAndSet(true, false)) {
        return;
      }
      try {
        if (workingDir != null) {
          recordUseLocked(workingDir);
        }
        evictLocked();
      } catch (IOException | RuntimeException e) {
        log.warn("provider cache {}: bookkeeping failed: {}", dir, e.toString());
      }
      try {
        appendLockEvent("released", holder);
      } catch (IOException e) {
        log.warn("provider cache {}: cannot record the release: {}", dir, e.toString());
      }
      try (channel) {
        lock.release();
      } catch (IOException e) {
        log.warn("provider cache {}: releasing the lock failed: {}", dir, e.toString());
      } finally {
        inProcess.release();
      }
    }
  }
}
