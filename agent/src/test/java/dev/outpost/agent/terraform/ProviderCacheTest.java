package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bookkeeping, eviction and the lock, with fake provider directories and a settable clock. */
class ProviderCacheTest {
  private static final Duration MONTH = Duration.ofDays(30);
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  @TempDir Path tmp;
  private final MutableClock clock = new MutableClock(T0);

  @Test
  void evict_removesEntriesUnusedForLongerThanTheLimit_byBookkeepingOrElseDirectoryTime()
      throws Exception {
    ProviderCache cache = new ProviderCache(tmp.resolve("cache"), Long.MAX_VALUE, MONTH, clock);
    Path a = entry(cache, "example.com/acme/a/1.0.0", 10);
    Path b = entry(cache, "example.com/acme/b/2.0.0", 10);
    Path untracked = entry(cache, "registry.terraform.io/hashicorp/u/3.0.0", 10);
    Files.setLastModifiedTime(untracked, FileTime.from(T0));
    initUsing(cache, a, b);                          // both used at T0
    clock.now = T0.plus(Duration.ofDays(10));
    initUsing(cache, b);                             // only b used again

    clock.now = T0.plus(Duration.ofDays(31));
    cache.evict();

    assertThat(a).doesNotExist();
    assertThat(a.getParent()).doesNotExist();        // empty type, namespace dirs go too
    assertThat(untracked).doesNotExist();
    assertThat(tmp.resolve("cache/registry.terraform.io")).doesNotExist();
    assertThat(b.resolve("linux_amd64/terraform-provider-b")).exists();
    assertThat(CacheInventory.readUsage(cache.dir().resolve(".outpost/usage.properties")))
        .containsOnlyKeys("example.com/acme/b/2.0.0");
  }

  @Test
  void evict_overBudget_dropsLeastRecentlyUsedFirst_butNeverWhatWasUsedInTheLastDay()
      throws Exception {
    ProviderCache cache = new ProviderCache(tmp.resolve("cache"), 250, MONTH, clock);
    Path a = entry(cache, "h/n/a/1.0.0", 100);
    Path b = entry(cache, "h/n/b/1.0.0", 100);
    Path c = entry(cache, "h/n/c/1.0.0", 100);
    initUsing(cache, b);                              // T0: b; a and c are new (dir time: now)
    clock.now = T0.plus(Duration.ofHours(1));
    initUsing(cache, a);
    clock.now = T0.plus(Duration.ofHours(2));
    initUsing(cache, c);                              // over budget, but all used within a day

    assertThat(List.of(a, b, c)).allMatch(Files::exists);

    clock.now = T0.plus(Duration.ofDays(5));
    cache.evict();                                    // 300 > 250: the least recently used goes
    assertThat(b).doesNotExist();
    assertThat(List.of(a, c)).allMatch(Files::exists);

    Path d = entry(cache, "h/n/d/1.0.0", 100);
    initUsing(cache, d);
    clock.now = clock.now.plus(Duration.ofHours(2));
    ProviderCache tiny = new ProviderCache(cache.dir(), 50, MONTH, clock);
    tiny.evict();                                     // d is over budget but used 2 h ago
    assertThat(List.of(a, c)).noneMatch(Files::exists);
    assertThat(d).exists();
  }

  @Test
  void lockForInit_serializesHoldersInThisJvm_andRecordsEveryAcquisitionInOrder() throws Exception {
    ProviderCache cache = new ProviderCache(tmp.resolve("cache"), Long.MAX_VALUE, MONTH,
        Clock.systemUTC());
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger maxInside = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<?>> done = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      // A second instance on the same directory shares the lock (one JVM, one FileLock).
      ProviderCache handle = i % 2 == 0 ? cache
          : new ProviderCache(cache.dir(), Long.MAX_VALUE, MONTH, Clock.systemUTC());
      done.add(pool.submit(() -> {
        try (ProviderCache.Lease lease = handle.lockForInit()) {
          maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
          Thread.onSpinWait();
          inside.decrementAndGet();
        }
        return null;
      }));
    }
    for (Future<?> f : done) {
      f.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();

    assertThat(maxInside).hasValue(1);
    List<ProviderCache.LockEvent> record = cache.lockRecord();
    assertThat(record).hasSize(80);
    for (int i = 0; i < record.size(); i += 2) {
      assertThat(record.get(i).acquired()).isTrue();
      assertThat(record.get(i + 1).acquired()).isFalse();
      assertThat(record.get(i + 1).holder()).isEqualTo(record.get(i).holder());
      assertThat(record.get(i + 1).at()).isAfterOrEqualTo(record.get(i).at());
    }
  }

  @Test
  void lease_closeIsIdempotent() throws Exception {
    ProviderCache cache = new ProviderCache(tmp.resolve("cache"), 1, MONTH, clock);
    ProviderCache.Lease lease = cache.lockForInit();
    lease.close();
    lease.close();
    assertThat(lease.isHeld()).isFalse();
    assertThat(cache.lockRecord()).hasSize(2);
    cache.lockForInit().close(); // the semaphore was released exactly once
    assertThat(cache.lockRecord()).hasSize(4);
  }

  @Test
  void constructor_refusesNonsense() {
    assertThatThrownBy(() -> new ProviderCache(tmp, 0, MONTH, clock))
        .hasMessageContaining("maxBytes");
    assertThatThrownBy(() -> new ProviderCache(tmp, 1, Duration.ZERO, clock))
        .hasMessageContaining("evictUnusedAfter");
  }

  /** host/ns/type/version/linux_amd64/terraform-provider-type of the given size. */
  private static Path entry(ProviderCache cache, String key, int bytes) throws Exception {
    Path version = cache.dir().resolve(key);
    String type = version.getParent().getFileName().toString();
    Path platform = Files.createDirectories(version.resolve("linux_amd64"));
    Files.write(platform.resolve("terraform-provider-" + type), new byte[bytes]);
    return version;
  }

  /** What an init leaves: .terraform/providers/... linking into the cache, then the lease ends. */
  private void initUsing(ProviderCache cache, Path... versions) throws Exception {
    Path wd = Files.createTempDirectory(tmp, "wd");
    for (Path v : versions) {
      Path link = wd.resolve(".terraform/providers").resolve(cache.dir().relativize(v))
          .resolve("linux_amd64");
      Files.createDirectories(link.getParent());
      Files.createSymbolicLink(link, v.resolve("linux_amd64"));
    }
    cache.lockForInit().usedBy(wd).close();
  }

  private static final class MutableClock extends Clock {
    volatile Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
