package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * The redactor's skipping search against the plain one it replaced (every pattern whose first
 * three characters hash like three in the line, searched for in turn, longest first): the same
 * output and the same count, on secrets and lines made of few characters, so that patterns
 * overlap, contain each other, collide in the hash and meet the mask's own text.
 */
class RedactorEquivalenceTest {
  /** Mostly ASCII, so that many lines also test the check on ASCII bytes. */
  private static final String ALPHABET = "ab3s-()enitv=%\\\"é";

  @Property(tries = 3000)
  void skippingSearch_masksExactlyWhatThePlainSearchMasks(@ForAll long seed) {
    Random r = new Random(seed);
    List<String> secrets = new ArrayList<>();
    for (int i = r.nextInt(6); i >= 0; i--) {
      secrets.add(r.nextInt(8) == 0 ? "sensitive".substring(r.nextInt(5))
          : random(r, 3 + r.nextInt(12)));
    }
    Redactor redactor = new Redactor(secrets);
    List<String> pieces = new ArrayList<>(redactor.patterns());
    pieces.add(Redactor.MASK);
    for (String s : secrets) {
      pieces.add(URLEncoder.encode(s, StandardCharsets.UTF_8));
      pieces.add(Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8)));
    }
    for (int line = 0; line < 20; line++) {
      StringBuilder b = new StringBuilder();
      for (int i = r.nextInt(8); i >= 0; i--) {
        if (!pieces.isEmpty() && r.nextBoolean()) {
          String piece = pieces.get(r.nextInt(pieces.size()));
          b.append(r.nextInt(4) == 0 ? piece.substring(r.nextInt(piece.length())) : piece);
        } else {
          b.append(random(r, r.nextInt(6)));
        }
      }
      String text = b.toString();
      long before = redactor.count();
      String masked = redactor.redact(text);
      long[] counted = new long[1];
      assertThat(masked).as(secrets + " in " + text)
          .isEqualTo(plainSearch(redactor, text, counted));
      assertThat(redactor.count() - before).as(text).isEqualTo(counted[0]);
      // The check the pipeline makes on a line's bytes before it makes text of them: yes
      // exactly when redact masks something (returns another string), for lines of ASCII.
      if (text.chars().allMatch(c -> c < 128)) {
        byte[] bytes = ("> " + text + " <").getBytes(StandardCharsets.US_ASCII);
        assertThat(redactor.occursInAscii(bytes, 2, bytes.length - 2)).as(secrets + " in " + text)
            .isEqualTo(masked != text);
      }
    }
  }

  private static String random(Random r, int length) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < length; i++) {
      b.append(ALPHABET.charAt(r.nextInt(ALPHABET.length())));
    }
    return b.toString();
  }

  /** The search as it was before it skipped: the reference for what redact must give. */
  private static String plainSearch(Redactor redactor, String line, long[] counted) {
    List<String> patterns = redactor.patterns();
    if (patterns.isEmpty() || line.length() < Redactor.MIN_SECRET_LENGTH) {
      return line;
    }
    boolean[] candidate = new boolean[patterns.size()];
    for (int i = 0; i + 2 < line.length(); i++) {
      int bucket = Redactor.bucket(line.charAt(i), line.charAt(i + 1), line.charAt(i + 2));
      for (int p = 0; p < patterns.size(); p++) {
        String s = patterns.get(p);
        candidate[p] |= Redactor.bucket(s.charAt(0), s.charAt(1), s.charAt(2)) == bucket;
      }
    }
    String out = line;
    for (int p = 0; p < patterns.size(); p++) {
      if (!candidate[p]) {
        continue;
      }
      String secret = patterns.get(p);
      int at = out.indexOf(secret);
      if (at < 0) {
        continue;
      }
      StringBuilder b = new StringBuilder();
      int from = 0;
      while (at >= 0) {
        b.append(out, from, at).append(Redactor.MASK);
        counted[0]++;
        from = at + secret.length();
        at = out.indexOf(secret, from);
      }
      out = b.append(out, from, out.length()).toString();
    }
    return out;
  }
}
