package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.agent.daemon.IdleClass;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Commands' output is followed on reader threads while the job's thread watches. */
class LogReadersTest {
  private static final Duration EVERY = Duration.ofMillis(5);

  @Test
  void idleReadersRunInTheIdleClass_theCallerKeepsItsClass() throws Exception {
    int[] readerPolicy = new int[1];
    new LogReaders(true).follow(() -> readerPolicy[0] = IdleClass.policy(), () -> { }, EVERY);

    assertThat(readerPolicy[0]).isEqualTo(IdleClass.SCHED_IDLE);
    // The job's thread, which starts Terraform, does not move.
    assertThat(IdleClass.policy()).isEqualTo(0);
  }

  @Test
  void normalReadersKeepTheNormalClass() throws Exception {
    int[] readerPolicy = {-1};
    new LogReaders(false).follow(() -> readerPolicy[0] = IdleClass.policy(), () -> { }, EVERY);

    assertThat(readerPolicy[0]).isEqualTo(0);
  }

  @Test
  void readersThatCannotEnterTheIdleClassStillRead_atNormalPriority() throws Exception {
    int[] readerPolicy = {-1};
    new LogReaders(true, () -> {
      throw new IOException("no chrt here");
    }).follow(() -> readerPolicy[0] = IdleClass.policy(), () -> { }, EVERY);

    assertThat(readerPolicy[0]).isEqualTo(0);
  }

  @Test
  void theWatchRunsOnTheCallersThreadWhileTheReaderFollows() throws Exception {
    CountDownLatch watched = new CountDownLatch(3);
    List<Thread> watchThreads = new CopyOnWriteArrayList<>();
    Thread[] reader = new Thread[1];
    new LogReaders(false).follow(() -> {
      reader[0] = Thread.currentThread();
      if (!watched.await(10, TimeUnit.SECONDS)) {
        throw new IOException("the watch did not run while following");
      }
    }, () -> {
      watchThreads.add(Thread.currentThread());
      watched.countDown();
    }, EVERY);

    assertThat(watchThreads).hasSizeGreaterThanOrEqualTo(3).containsOnly(Thread.currentThread());
    assertThat(reader[0]).isNotSameAs(Thread.currentThread());
    assertThat(reader[0].getName()).isEqualTo("log-reader");
  }

  @Test
  void whatTheReaderThrowsIsThrownToTheCaller() {
    IOException failure = new IOException("stdout vanished");
    assertThatThrownBy(() -> new LogReaders(false).follow(() -> {
      throw failure;
    }, () -> { }, EVERY)).isSameAs(failure);

    IllegalStateException bug = new IllegalStateException("a bug");
    assertThatThrownBy(() -> new LogReaders(false).follow(() -> {
      throw bug;
    }, () -> { }, EVERY)).isSameAs(bug);
  }

  @Test
  void anInterruptedCallerReturnsOnlyOnceTheReaderHasStopped() throws Exception {
    LogReaders readers = new LogReaders(false);
    CountDownLatch following = new CountDownLatch(1);
    AtomicBoolean readerEnded = new AtomicBoolean();
    CompletableFuture<Throwable> thrown = new CompletableFuture<>();
    CompletableFuture<Boolean> endedWhenReturned = new CompletableFuture<>();
    Thread job = new Thread(() -> {
      try {
        readers.follow(() -> {
          following.countDown();
          try {
            Thread.sleep(Long.MAX_VALUE);
          } finally {
            Thread.sleep(50); // stopping takes a moment: the caller must wait for it
            readerEnded.set(true);
          }
        }, () -> { }, EVERY);
        thrown.complete(null);
      } catch (Throwable t) {
        thrown.complete(t);
      }
      endedWhenReturned.complete(readerEnded.get());
    });
    job.start();
    assertThat(following.await(10, TimeUnit.SECONDS)).isTrue();
    job.interrupt();

    assertThat(thrown.get(10, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
    assertThat(endedWhenReturned.get(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aWatchThatThrowsStopsTheReaderBeforeTheCallerGoesOn() throws Exception {
    AtomicBoolean readerEnded = new AtomicBoolean();
    RuntimeException broken = new RuntimeException("watch broke");
    assertThatThrownBy(() -> new LogReaders(false).follow(() -> {
      try {
        Thread.sleep(Long.MAX_VALUE);
      } finally {
        readerEnded.set(true);
      }
    }, () -> {
      throw broken;
    }, EVERY)).isSameAs(broken);

    assertThat(readerEnded).isTrue();
  }
}
