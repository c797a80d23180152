package dev.outpost.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

  /**
   * The JDK makes the thread that waits for a process (its "process reaper") from the thread
   * that starts the process, just after the start, and it inherits that thread's class. So if
   * the entering thread started chrt itself, chrt could move it into the idle class first, and
   * the reaper (which then waits for Terraform too) would be idle for good. Each round here
   * leaves no reaper free, so that chrt's start makes a new one, and looks at them all.
   */
  @Test
  void theThreadsThatWaitForProcesses_stayInTheNormalClass() throws Exception {
    List<Process> busy = new ArrayList<>();
    try {
      for (int round = 0; round < 100; round++) {
        int reapers = reaperPolicies().size();
        while (reaperPolicies().size() == reapers) {
          // A reaper waits for each running process: once a new one is made, none is free.
          busy.add(new ProcessBuilder("sleep", "60").start());
        }
        assertThat(onNewThread(() -> {
          IdleClass.enter();
          return IdleClass.policy();
        })).isEqualTo(IdleClass.SCHED_IDLE);
        assertThat(reaperPolicies()).as("the policies of the process reapers, round " + round)
            .doesNotContain(IdleClass.SCHED_IDLE);
      }
    } finally {
      busy.forEach(Process::destroyForcibly);
    }
  }

  /** The scheduling policy of each of this JVM's process reaper threads. */
  private static List<Integer> reaperPolicies() throws IOException {
    List<Integer> policies = new ArrayList<>();
    try (var tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path task : tasks.toList()) {
        try {
          if (Files.readString(task.resolve("comm")).startsWith("process reaper")) {
            policies.add(IdleClass.policy(task.resolve("stat")));
          }
        } catch (NoSuchFileException gone) {
          // the thread ended meanwhile
        }
      }
    }
    return policies;
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
