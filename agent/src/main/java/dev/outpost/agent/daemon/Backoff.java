package dev.outpost.agent.daemon;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/** Jittered exponential backoff: each delay is random in [base/2, base], base doubling to a cap. */
public final class Backoff {
  private final Duration initial;
  private final Duration max;
  private Duration current;

  public Backoff(Duration initial, Duration max) {
    this.initial = initial;
    this.max = max;
    this.current = initial;
  }

  public Duration next() {
    Duration base = current;
    current = current.multipliedBy(2).compareTo(max) > 0 ? max : current.multipliedBy(2);
    long half = base.toMillis() / 2;
    return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(half + 1));
  }

  public void reset() {
    current = initial;
  }
}
