package dev.outpost.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import org.junit.jupiter.api.Test;

/** Threads of a starter's factory start in the starter's class, whoever starts them. */
class ThreadStarterTest {
  @Test
  void aThreadStartedByAnIdleThread_runsInTheStartersClass() throws Exception {
    CompletableFuture<Integer> plain = new CompletableFuture<>();
    CompletableFuture<Integer> fromFactory = new CompletableFuture<>();
    CompletableFuture<Thread> made = new CompletableFuture<>();
    try (ThreadStarter starter = new ThreadStarter()) {
      ThreadFactory factory = starter.factory("worker");
      Thread idle = new Thread(() -> {
        try {
          IdleClass.enter();
          // The control: what the kernel does without the starter.
          Thread t = new Thread(() -> complete(plain));
          t.start();
          t.join();
          Thread f = factory.newThread(() -> complete(fromFactory));
          made.complete(f);
          f.start();
          f.join();
        } catch (Exception e) {
          plain.completeExceptionally(e);
          fromFactory.completeExceptionally(e);
        }
      });
      idle.start();
      idle.join();
    }

    assertThat(plain.get()).isEqualTo(IdleClass.SCHED_IDLE);
    assertThat(fromFactory.get()).isEqualTo(IdleClass.policy()).isNotEqualTo(IdleClass.SCHED_IDLE);
    assertThat(made.get().getName()).isEqualTo("worker-1");
    assertThat(made.get().isDaemon()).isTrue();
  }

  @Test
  void anInterruptedCaller_stillStartsTheThread_andKeepsItsInterrupt() throws Exception {
    try (ThreadStarter starter = new ThreadStarter()) {
      CompletableFuture<Boolean> ran = new CompletableFuture<>();
      Thread t = starter.factory("worker").newThread(() -> ran.complete(true));
      Thread.currentThread().interrupt();
      try {
        t.start();
        assertThat(Thread.currentThread().isInterrupted()).isTrue();
      } finally {
        Thread.interrupted();
      }
      assertThat(ran.get()).isTrue();
    }
  }

  @Test
  void afterClose_aThreadCannotStart_andTheCallerIsTold() {
    ThreadStarter starter = new ThreadStarter();
    ThreadFactory factory = starter.factory("worker");
    starter.close();

    assertThatThrownBy(() -> factory.newThread(() -> {}).start())
        .isInstanceOf(RejectedExecutionException.class);
  }

  private static void complete(CompletableFuture<Integer> policy) {
    try {
      policy.complete(IdleClass.policy());
    } catch (Exception e) {
      policy.completeExceptionally(e);
    }
  }
}
