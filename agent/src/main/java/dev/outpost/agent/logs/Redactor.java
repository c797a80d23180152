package dev.outpost.agent.logs;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Masks a job's secret values in log lines before they leave the host. Terraform's own masking
 * is not enough: {@code nonsensitive()} and {@code local-exec} print secrets in clear, and
 * scripts print them encoded. Each secret is matched as written, JSON-escaped (as in the
 * {@code -json} stream), URL-encoded, and base64-encoded (standard and URL-safe alphabets, at
 * each of the three byte alignments it can have inside a longer encoded text); a multi-line
 * secret (a PEM key) is also matched line by line, since the log is read a line at a time.
 */
public final class Redactor {
  public static final String MASK = "(sensitive)";
  /** Values shorter than this would mask ordinary words; they are not used as patterns. */
  public static final int MIN_SECRET_LENGTH = 4;
  /** Encoded fragments shorter than this are too likely to occur by chance. */
  private static final int MIN_ENCODED_LENGTH = 8;

  private static final int BUCKETS = 1 << 16;

  private final List<String> patterns;
  /**
   * Patterns by a hash of their first three characters (every pattern has at least four): a
   * line is searched only for the patterns whose start occurs in it, in one pass over the line,
   * instead of once per pattern (a value has up to eight encoded forms).
   */
  private final int[][] byFirstThree = new int[BUCKETS][];
  private final AtomicLong count = new AtomicLong();

  public Redactor(List<String> values) {
    Set<String> all = new LinkedHashSet<>();
    for (String v : values) {
      if (v != null && v.length() >= MIN_SECRET_LENGTH) {
        addForms(all, v);
        if (v.contains("\n")) {
          for (String line : v.split("\r?\n")) {
            if (line.strip().length() >= MIN_SECRET_LENGTH) {
              addForms(all, line.strip());
            }
          }
        }
      }
    }
    List<String> sorted = new ArrayList<>(all);
    // Longest first, so a secret that contains another is masked whole.
    sorted.sort(Comparator.comparingInt(String::length).reversed());
    this.patterns = List.copyOf(sorted);
    for (int i = 0; i < patterns.size(); i++) {
      String p = patterns.get(i);
      int bucket = bucket(p.charAt(0), p.charAt(1), p.charAt(2));
      int[] ids = byFirstThree[bucket];
      int[] more = ids == null ? new int[1] : java.util.Arrays.copyOf(ids, ids.length + 1);
      more[more.length - 1] = i;
      byFirstThree[bucket] = more;
    }
  }

  /** A hash of three characters; patterns that start alike share a bucket. */
  private static int bucket(char a, char b, char c) {
    return (a * 961 + b * 31 + c) & (BUCKETS - 1);
  }

  private static void addForms(Set<String> out, String secret) {
    out.add(secret);
    out.add(jsonEscaped(secret));
    out.add(URLEncoder.encode(secret, StandardCharsets.UTF_8));
    out.add(URLEncoder.encode(secret, StandardCharsets.UTF_8).replace("+", "%20"));
    byte[] bytes = secret.getBytes(StandardCharsets.UTF_8);
    for (int align = 0; align < 3; align++) {
      for (Base64.Encoder encoder : List.of(Base64.getEncoder(), Base64.getUrlEncoder())) {
        String fragment = stableBase64(encoder, bytes, align);
        if (fragment.length() >= MIN_ENCODED_LENGTH) {
          out.add(fragment);
        }
      }
    }
  }

  /**
   * The base64 characters that depend on the secret alone when it starts {@code align} bytes
   * into a 3-byte group: the groups shared with unknown neighbouring bytes are cut off.
   */
  static String stableBase64(Base64.Encoder encoder, byte[] secret, int align) {
    byte[] padded = new byte[align + secret.length];
    System.arraycopy(secret, 0, padded, align, secret.length);
    String encoded = encoder.withoutPadding().encodeToString(padded);
    int start = align == 0 ? 0 : 4;
    int end = 4 * ((align + secret.length) / 3);
    return end > start ? encoded.substring(start, end) : "";
  }

  /** How many values were given but are too short to be masked safely. */
  public static long tooShort(List<String> values) {
    return values.stream().filter(v -> v != null && !v.isEmpty() && v.length() < MIN_SECRET_LENGTH)
        .count();
  }

  public String redact(String line) {
    if (patterns.isEmpty() || line.length() < MIN_SECRET_LENGTH) {
      return line;
    }
    long[] candidates = null;
    for (int i = 0; i + 2 < line.length(); i++) {
      int[] ids = byFirstThree[bucket(line.charAt(i), line.charAt(i + 1), line.charAt(i + 2))];
      if (ids != null) {
        if (candidates == null) {
          candidates = new long[(patterns.size() + 63) >>> 6];
        }
        for (int id : ids) {
          candidates[id >>> 6] |= 1L << id;
        }
      }
    }
    if (candidates == null) {
      return line;
    }
    String out = line;
    for (int p = 0; p < patterns.size(); p++) {
      if ((candidates[p >>> 6] & (1L << p)) == 0) {
        continue; // its first three characters are nowhere in the line
      }
      String secret = patterns.get(p);
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

  /** Occurrences masked so far. */
  public long count() {
    return count.get();
  }

  int patternCount() {
    return patterns.size();
  }

  @Override
  public String toString() {
    return "Redactor[" + patterns.size() + " patterns]";
  }
}
