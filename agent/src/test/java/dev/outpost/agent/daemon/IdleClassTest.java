package dev.outpost.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** A thread moves itself, and only itself, into SCHED_IDLE; a failure says why. */
class IdleClassTest {
  @Test
  void aThreadEntersTheIdleClass_itsCreatorStaysWhereItWas() throws Exception {
    int before = IdleClass.policy();

    int policy = onNewThread(() -> {
      IdleClass.enter();
      return IdleClass.policy();
    });

    assertThat(policy).isEqualTo(IdleClass.SCHED_IDLE);
    assertThat(IdleClass.policy()).isEqualTo(before).isNotEqualTo(IdleClass.SCHED_IDLE);
  }

  @Test
  void withoutChrt_theFailureNamesIt() {
    assertThatThrownBy(() -> onNewThread(() -> {
      IdleClass.enter("/nonexistent/chrt");
      return null;
    })).isInstanceOf(ExecutionException.class).cause().isInstanceOf(IOException.class)
        .hasMessageContaining("cannot run chrt (util-linux)");
  }

  @Test
  void aThreadAlreadyIdle_startsNoChrt() throws Exception {
    int policy = onNewThread(() -> {
      IdleClass.enter();
      // A chrt that cannot run would throw: none is started.
      IdleClass.enter("/nonexistent/chrt");
      return IdleClass.policy();
    });

    assertThat(policy).isEqualTo(IdleClass.SCHED_IDLE);
  }

  /** What {@code task} returns on a thread of its own (a thread moves only itself). */
  private static <T> T onNewThread(Callable<T> task) throws Exception {
    CompletableFuture<T> result = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        result.complete(task.call());
      } catch (Exception e) {
        result.completeExceptionally(e);
      }
    });
    t.start();
    t.join();
    return result.get();
  }
}
