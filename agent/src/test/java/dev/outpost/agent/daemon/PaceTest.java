package dev.outpost.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class PaceTest {
  @Test
  void pausesDoubleFromOneMillisecondUpToTheCap() throws Exception {
    Pace pace = new Pace(Duration.ofMillis(4));
    long began = System.nanoTime();
    for (int i = 0; i < 5; i++) {
      pace.pause(); // 1, 2, 4, 4, 4
    }
    assertThat(Duration.ofNanos(System.nanoTime() - began)).isGreaterThanOrEqualTo(
        Duration.ofMillis(15));
  }

  @Test
  void anInterruptEndsThePause() {
    Pace pace = new Pace(Duration.ofSeconds(10));
    Thread.currentThread().interrupt();
    assertThatThrownBy(pace::pause).isInstanceOf(InterruptedException.class);
    assertThat(Thread.interrupted()).as("interrupt consumed by the exception").isFalse();
  }
}
