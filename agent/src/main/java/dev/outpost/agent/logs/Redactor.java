package dev.outpost.agent.logs;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Masks a job's secret values in log lines before they leave the host. Terraform's own masking
 * is not enough: {@code nonsensitive()} and {@code local-exec} print secrets in clear.
 */
public final class Redactor {
  public static final String MASK = "(sensitive)";
  /** Values shorter than this would mask ordinary words; they are not used as patterns. */
  public static final int MIN_SECRET_LENGTH = 4;

  private final List<String> secrets;
  private final AtomicLong count = new AtomicLong();

  public Redactor(List<String> values) {
    List<String> usable = new ArrayList<>();
    for (String v : values) {
      if (v != null && v.length() >= MIN_SECRET_LENGTH) {
        usable.add(v);
      }
    }
    // Longest first, so a secret that contains another is masked whole.
    usable.sort(Comparator.comparingInt(String::length).reversed());
    this.secrets = List.copyOf(usable);
  }

  /** How many values were given but are too short to be masked safely. */
  public static long tooShort(List<String> values) {
    return values.stream().filter(v -> v != null && !v.isEmpty() && v.length() < MIN_SECRET_LENGTH)
        .count();
  }

  public String redact(String line) {
    String out = line;
    for (String secret : secrets) {
      int at = out.indexOf(secret);
      if (at < 0) {
        continue;
      }
      StringBuilder b = new StringBuilder(out.length());
      int from = 0;
      while (at >= 0) {
        b.append(out, from, at).append(MASK);
        count.incrementAndGet();
        from = at + secret.length();
        at = out.indexOf(secret, from);
      }
      out = b.append(out, from, out.length()).toString();
    }
    return out;
  }

  public long count() {
    return count.get();
  }
}
