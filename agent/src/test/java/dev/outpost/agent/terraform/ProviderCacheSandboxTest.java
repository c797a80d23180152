package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.agent.sandbox.ProcessLeaks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The shared provider cache under real bubblewrap and real terraform. */
class ProviderCacheSandboxTest {
  private static final Duration RUN = Duration.ofSeconds(100);
  private static final int JOBS = 4;
  private static final int BIG_PROVIDER_BYTES = 48 << 20;
  private static final String BIG = "example.com/test/big/1.0.0";

  @TempDir Path tmp;
  private final List<TerraformFixture> fixtures = new ArrayList<>();
  private ProviderCache cache;

  @BeforeEach
  void cache() throws Exception {
    cache = new ProviderCache(tmp.resolve("cache"), 4L << 30, Duration.ofDays(30),
        Clock.systemUTC());
  }

  @AfterEach
  void noneLeft() {
    for (TerraformFixture fx : fixtures) {
      ProcessLeaks.killAll(fx.marker);
      ProcessLeaks.assertNoneLeft(fx.marker);
    }
  }

  @Test
  void applyAfterInit_localExecCannotWriteIntoTheReadOnlyCache() throws Exception {
    TerraformFixture fx = fixture(tmp.resolve("ro")).file("main.tf", """
        resource "terraform_data" "probe" {
          provisioner "local-exec" {
            command = "test -n \\"$TF_PLUGIN_CACHE_DIR\\" && touch \\"$TF_PLUGIN_CACHE_DIR/x\\""
          }
        }
        """);
    Terraform tf = fx.terraform(cache, List.of(), Map.of());
    TerraformRun init = tf.init(InitOptions.defaults());
    assertThat(init.waitFor(RUN)).as(init.stderrTail(2000)).contains(0);

    TerraformRun apply = tf.apply(new ApplyOptions(null));
    int exit = apply.waitFor(RUN).orElseThrow();
    apply.stop(Duration.ZERO);

    assertThat(exit).isEqualTo(1);
    assertThat(apply.messages()).extracting(TerraformMessage::message)
        .anyMatch(m -> m.contains("touch: cannot touch '" + cache.dir().resolve("x") + "'")
            && m.contains("Read-only file system"));
    assertThat(cache.dir().resolve("x")).doesNotExist();
  }

  @Test
  @Timeout(120)
  void init_ofAConfigurationOfBuiltinResourcesOnly_doesNotQueueForTheCacheLock() throws Exception {
    Terraform tf = fixture(tmp.resolve("builtin")).file("main.tf", """
        resource "terraform_data" "x" {
          input = "nothing to install"
        }
        """).terraform(cache, List.of(), Map.of());
    try (ProviderCache.Lease held = cache.lockForInit()) {
      TerraformRun init = tf.init(InitOptions.defaults()); // would wait for `held` forever
      assertThat(init.waitFor(RUN)).as(init.stderrTail(2000)).contains(0);
      assertThat(held.isHeld()).isTrue();
    }
    assertThat(cache.lockRecord()).as("only this test's own lease").hasSize(2);
  }

  @Test
  @Timeout(300)
  void fourConcurrentInits_fromAPackedMirror_areSerialized_andLaterJobsLinkToTheCachedCopy()
      throws Exception {
    Path packed = ProviderMirrors.packed(tmp.resolve("packed-mirror"), "example.com", "test", "big",
        "1.0.0", BIG_PROVIDER_BYTES);
    Optional<Path> aws = ProviderMirrors.aws();
    if (aws.isEmpty()) {
      System.out.println("SKIPPED (part): no AWS provider mirror; the cache test runs with the "
          + "generated provider only (set " + ProviderMirrors.VARIABLE + ")");
    }
    List<Path> mirrors = new ArrayList<>(List.of(packed));
    aws.ifPresent(mirrors::add);
    String config = "terraform {\n  required_providers {\n"
        + "    big = { source = \"example.com/test/big\", version = \"1.0.0\" }\n"
        + (aws.isPresent() ? "    aws = { source = \"hashicorp/aws\", version = \"5.100.0\" }\n" : "")
        + "  }\n}\n";
    List<Terraform> jobs = new ArrayList<>();
    for (int i = 0; i < JOBS; i++) {
      jobs.add(fixture(tmp.resolve("job-" + i)).file("main.tf", config)
          .terraform(cache, mirrors, Map.of()));
    }

    ExecutorService pool = Executors.newFixedThreadPool(JOBS);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<Span>> spans = new ArrayList<>();
    for (Terraform tf : jobs) {
      spans.add(pool.submit(() -> {
        go.await();
        TerraformRun run = tf.init(InitOptions.defaults()); // blocks until the lock is held
        Instant started = Instant.now();
        Optional<Integer> exit = run.process().waitFor(RUN); // does not release the lock
        Instant ended = Instant.now();
        assertThat(run.exitCode()).isEqualTo(exit);          // this does, as in the job runner
        return new Span(started, ended, exit.orElse(-1), run.stderrTail(2000));
      }));
    }
    long t0 = System.nanoTime();
    go.countDown();
    List<Span> done = new ArrayList<>();
    for (Future<Span> f : spans) {
      done.add(f.get(250, TimeUnit.SECONDS));
    }
    long elapsedMs = (System.nanoTime() - t0) / 1_000_000;
    pool.shutdown();

    assertThat(done).allSatisfy(s -> assertThat(s.exit()).as(s.stderr()).isZero());
    // Writers were serialized: the record alternates acquire/release of one holder at a time...
    List<ProviderCache.LockEvent> record = cache.lockRecord();
    assertThat(record).hasSize(2 * JOBS);
    for (int i = 0; i < record.size(); i += 2) {
      assertThat(record.get(i).acquired()).isTrue();
      assertThat(record.get(i + 1).acquired()).isFalse();
      assertThat(record.get(i + 1).holder()).isEqualTo(record.get(i).holder());
    }
    // ...and, seen from outside, no two init processes ran at the same time.
    done.sort((a, b) -> a.started().compareTo(b.started()));
    for (int i = 1; i < done.size(); i++) {
      assertThat(done.get(i).started()).isAfter(done.get(i - 1).ended());
    }
    // One copy, written during the first critical section only: later inits linked to it.
    Path cached = cache.dir().resolve(BIG).resolve("linux_amd64/terraform-provider-big_v1.0.0");
    assertThat(cached).hasSize(BIG_PROVIDER_BYTES);
    Instant written = Files.getLastModifiedTime(cached).toInstant();
    // File times come from the kernel's coarse clock: allow one tick's lag.
    assertThat(written).isAfter(record.get(0).at().minusMillis(50)).isBefore(record.get(1).at());
    int fromCache = 0;
    for (TerraformFixture fx : fixtures) {
      Path link = fx.source.resolve(".terraform/providers/" + BIG + "/linux_amd64");
      assertThat(Files.readSymbolicLink(link)).isEqualTo(cached.getParent());
      if (aws.isPresent()) {
        assertThat(Files.readSymbolicLink(fx.source.resolve(
            ".terraform/providers/" + ProviderMirrors.AWS + "/linux_amd64")))
            .startsWithRaw(cache.dir());
      }
      if (Files.readString(fx.jobDir.resolve(".outpost/run/01-init.stdout"))
          .contains("from the shared cache directory")) {
        fromCache++;
      }
    }
    assertThat(fromCache).isEqualTo(JOBS - 1);
    System.out.printf("4 inits (aws %s): %d ms in all; critical sections %s%n",
        aws.isPresent() ? "included" : "absent", elapsedMs, done.stream()
            .map(s -> Duration.between(s.started(), s.ended()).toMillis() + " ms").toList());
  }

  @Test
  void init_withoutLockFile_whileAnotherJobRunsTheCachedProvider_usesTheCopyInsteadOfRewritingIt()
      throws Exception {
    // Without TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE, Terraform re-extracts over the
    // running binary and fails with "text file busy". /bin/sleep stands in for a provider.
    Path mirror = ProviderMirrors.packed(tmp.resolve("mirror"), "example.com", "test", "slp",
        "1.0.0", Files.readAllBytes(Path.of("/bin/sleep")));
    String config = "terraform {\n  required_providers {\n"
        + "    slp = { source = \"example.com/test/slp\", version = \"1.0.0\" }\n  }\n}\n";
    Terraform first = fixture(tmp.resolve("first")).file("main.tf", config)
        .terraform(cache, List.of(mirror), Map.of());
    TerraformRun init = first.init(InitOptions.defaults());
    assertThat(init.waitFor(RUN)).as(init.stderrTail(2000)).contains(0);
    Path cached = cache.dir().resolve("example.com/test/slp/1.0.0/linux_amd64/terraform-provider-slp_v1.0.0");
    Instant written = Files.getLastModifiedTime(cached).toInstant();

    Process running = new ProcessBuilder(cached.toString(), "60").start();
    try {
      TerraformFixture second = fixture(tmp.resolve("second")).file("main.tf", config);
      TerraformRun again = second.terraform(cache, List.of(mirror), Map.of())
          .init(InitOptions.defaults());
      assertThat(again.waitFor(RUN)).as(again.stderrTail(2000)).contains(0);
      assertThat(Files.readString(again.stdoutFile())).contains("from the shared cache directory");
      assertThat(Files.getLastModifiedTime(cached).toInstant()).isEqualTo(written);
    } finally {
      running.destroyForcibly().waitFor();
    }
  }

  private TerraformFixture fixture(Path dir) throws Exception {
    TerraformFixture fx = new TerraformFixture(Files.createDirectories(dir));
    fixtures.add(fx);
    return fx;
  }

  private record Span(Instant started, Instant ended, int exit, String stderr) {}
}
