package dev.outpost.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.agent.daemon.IdleClass;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The control plane's threads in the benchmarks really run in SCHED_IDLE; others do not. */
class IdleThreadsTest {
  @Test
  void aThreadOfTheFactoryRunsInTheIdleClass_itsCreatorDoesNot() throws Exception {
    IdleThreads.check();
    CompletableFuture<Integer> policy = new CompletableFuture<>();
    Thread t = new IdleThreads("idle-test").newThread(() -> {
      try {
        policy.complete(IdleClass.policy());
      } catch (Exception e) {
        policy.completeExceptionally(e);
      }
    });
    t.start();
    t.join();

    assertThat(policy.get()).isEqualTo(IdleClass.SCHED_IDLE);
    // Only the new thread moved: the harness's own threads (timings, bare scripts) stay as
    // they were, and so do the processes they start.
    assertThat(IdleClass.policy()).isNotEqualTo(IdleClass.SCHED_IDLE);
  }
}
