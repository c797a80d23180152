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
    java.util.Set<String> usable = new java.util.LinkedHashSet<>();
    for (String v : values) {
      if (v != null && v.length() >= MIN_SECRET_LENGTH) {
        usable.add(v);
        // Terraform's -json lines carry strings JSON-escaped; the escaped form must match too.
        String escaped = jsonEscaped(v);
        if (!escaped.equals(v)) {
          usable.add(escaped);
        }
      }
    }
    // Longest first, so a secret that contains another is masked whole.
    List<String> sorted = new ArrayList<>(usable);
    sorted.sort(Comparator.comparingInt(String::length).reversed());
    this.secrets = List.copyOf(sorted);
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

  /** The value as Go's encoding/json writes it inside a string (HTML characters escaped). */
  static String jsonEscaped(String value) {
    StringBuilder b = new StringBuilder(value.length() + 8);
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '<' -> b.append("\\u003c");
        case '>' -> b.append("\\u003e");
        case '&' -> b.append("\\u0026");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.toString();
  }

  public long count() {
    return count.get();
  }
}
