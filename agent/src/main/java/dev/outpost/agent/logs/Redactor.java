package dev.outpost.agent.logs;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
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
   * Patterns by a hash of their first three characters (every pattern has at least four): one
   * pass over a line compares with the line only the patterns that may start where it stops,
   * instead of searching the line once per pattern (a value has up to eight encoded forms).
   */
  private final int[][] byFirstThree = new int[BUCKETS][];
  /**
   * How far the pass may move on when the window of {@link #window} characters it is at ends
   * in three characters of this hash (the Wu-Manber scheme): the distance from the end of the
   * window to the last place such characters have in the first {@code window} characters of a
   * pattern, or {@code window - 2} where they have none. An occurrence is never stepped over,
   * and an ordinary line is looked at once every few characters instead of at every one.
   */
  private final byte[] shift = new byte[BUCKETS];
  /** The length of the shortest pattern, at most {@link #MAX_WINDOW}. */
  private final int window;
  private static final int MAX_WINDOW = 64;
  /**
   * Patterns that a mask put into a line can make appear where the line had none (they contain
   * a parenthesis or are part of the mask's text): once a line has a mask, each of them is
   * searched for if the line has its first three characters, as every pattern once was.
   */
  private final long[] touchMask;
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
    this.touchMask = new long[(patterns.size() + 63) >>> 6];
    int shortest = MAX_WINDOW;
    for (int i = 0; i < patterns.size(); i++) {
      String p = patterns.get(i);
      shortest = Math.min(shortest, p.length());
      int bucket = bucket(p.charAt(0), p.charAt(1), p.charAt(2));
      int[] ids = byFirstThree[bucket];
      int[] more = ids == null ? new int[1] : Arrays.copyOf(ids, ids.length + 1);
      more[more.length - 1] = i;
      byFirstThree[bucket] = more;
      if (p.indexOf('(') >= 0 || p.indexOf(')') >= 0 || MASK.contains(p)) {
        touchMask[i >>> 6] |= 1L << i;
      }
    }
    this.window = shortest;
    Arrays.fill(shift, (byte) (window - 2));
    for (String p : patterns) {
      for (int end = 2; end < window; end++) {
        int bucket = bucket(p.charAt(end - 2), p.charAt(end - 1), p.charAt(end));
        shift[bucket] = (byte) Math.min(shift[bucket], window - 1 - end);
      }
    }
  }

  /** A hash of three characters; patterns that start alike share a bucket. */
  static int bucket(char a, char b, char c) {
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

  /**
   * The line with every occurrence of every pattern masked, longest pattern first, each in the
   * line as the longer ones left it.
   */
  public String redact(String line) {
    int n = line.length();
    if (patterns.isEmpty() || n < MIN_SECRET_LENGTH) {
      return line;
    }
    long[] found = null; // the patterns that occur in the line
    for (int at = 0; at + window <= n; ) {
      int end = at + window - 1;
      int step = shift[bucket(line.charAt(end - 2), line.charAt(end - 1), line.charAt(end))];
      if (step > 0) {
        at += step;
        continue;
      }
      int[] ids = byFirstThree[bucket(line.charAt(at), line.charAt(at + 1), line.charAt(at + 2))];
      if (ids != null) {
        for (int id : ids) {
          if (line.startsWith(patterns.get(id), at)) {
            if (found == null) {
              found = new long[touchMask.length];
            }
            found[id >>> 6] |= 1L << id;
          }
        }
      }
      at++;
    }
    if (found == null) {
      return line;
    }
    String out = line;
    for (int word = 0; word < found.length; word++) {
      long ids = found[word] | touchMask[word];
      while (ids != 0) {
        int p = (word << 6) + Long.numberOfTrailingZeros(ids);
        ids &= ids - 1;
        String secret = patterns.get(p);
        if ((found[word] & (1L << p)) == 0
            && (out == line || !startsInLine(line, secret))) {
          // Not in the line: only a mask put in it can have made it, and then only if the line
          // has its first three characters (as the search has always worked).
          continue;
        }
        out = mask(out, secret);
      }
    }
    return out;
  }

  /**
   * Whether {@link #redact} would change the line whose bytes, all ASCII, are {@code
   * ascii[from, to)}: the same search, over the bytes (an ASCII byte is its character), so that
   * a line with nothing to mask needs no text made of it. The pipeline decodes and redacts a
   * line only when this says yes.
   */
  public boolean occursInAscii(byte[] ascii, int from, int to) {
    int n = to - from;
    if (patterns.isEmpty() || n < MIN_SECRET_LENGTH) {
      return false;
    }
    for (int at = from; at + window <= to; ) {
      int end = at + window - 1;
      int step = shift[bucket((char) ascii[end - 2], (char) ascii[end - 1], (char) ascii[end])];
      if (step > 0) {
        at += step;
        continue;
      }
      int[] ids = byFirstThree[bucket((char) ascii[at], (char) ascii[at + 1],
          (char) ascii[at + 2])];
      if (ids != null) {
        for (int id : ids) {
          if (startsAt(ascii, at, to, patterns.get(id))) {
            return true;
          }
        }
      }
      at++;
    }
    return false;
  }

  private static boolean startsAt(byte[] ascii, int at, int to, String pattern) {
    if (to - at < pattern.length()) {
      return false;
    }
    for (int i = 0; i < pattern.length(); i++) {
      if (ascii[at + i] != pattern.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private String mask(String text, String secret) {
    int at = text.indexOf(secret);
    if (at < 0) {
      return text;
    }
    StringBuilder b = new StringBuilder(text.length());
    int from = 0;
    while (at >= 0) {
      b.append(text, from, at).append(MASK);
      count.incrementAndGet();
      from = at + secret.length();
      at = text.indexOf(secret, from);
    }
    return b.append(text, from, text.length()).toString();
  }

  /** Whether the line has three characters that hash like the first three of the pattern. */
  private static boolean startsInLine(String line, String pattern) {
    int wanted = bucket(pattern.charAt(0), pattern.charAt(1), pattern.charAt(2));
    for (int i = 0; i + 2 < line.length(); i++) {
      if (bucket(line.charAt(i), line.charAt(i + 1), line.charAt(i + 2)) == wanted) {
        return true;
      }
    }
    return false;
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

  /** The patterns, longest first: the order they are masked in. */
  List<String> patterns() {
    return patterns;
  }

  @Override
  public String toString() {
    return "Redactor[" + patterns.size() + " patterns]";
  }
}
