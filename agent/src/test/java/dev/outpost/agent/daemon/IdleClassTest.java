package dev.outpost.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** A thread moves itself, and only itself, into SCHED_IDLE; a failure says why. */
class IdleClassTest {
  @Test
  void aThreadEntersTheIdleClass_itsCreatorStaysWhereItWas() throws Exception {
    int before = IdleClass.policy();
    CompletableFuture<Integer> policy = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        IdleClass.enter();
        policy.complete(IdleClass.policy());
      } catch (IOException e) {
        policy.completeExceptionally(e);
      }
    });
    t.start();
    t.join();

    assertThat(policy.get()).isEqualTo(IdleClass.SCHED_IDLE);
    assertThat(IdleClass.policy()).isEqualTo(before).isNotEqualTo(IdleClass.SCHED_IDLE);
  }

  @Test
  void withoutChrt_theFailureNamesIt() throws Exception {
    CompletableFuture<Throwable> failure = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        IdleClass.enter("/nonexistent/chrt");
        failure.complete(null);
      } catch (IOException e) {
        failure.complete(e);
      }
    });
    t.start();
    t.join();

    assertThat(failure.get()).isInstanceOf(IOException.class)
        .hasMessageContaining("cannot run chrt (util-linux)");
  }

  @Test
  void aThreadAlreadyIdle_startsNoChrt() throws Exception {
    CompletableFuture<Integer> policy = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        IdleClass.enter();
        // A chrt that cannot run would throw: none is started.
        IdleClass.enter("/nonexistent/chrt");
        policy.complete(IdleClass.policy());
      } catch (IOException e) {
        policy.completeExceptionally(e);
      }
    });
    t.start();
    t.join();

    assertThat(policy.get()).isEqualTo(IdleClass.SCHED_IDLE);
  }
}
