package dev.outpost.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;

class RedactorTest {
  @Property
  void plainSecret_neverSurvives_wherever_itAppears(@ForAll("secrets") String secret,
      @ForAll @StringLength(max = 40) String before, @ForAll @StringLength(max = 40) String after) {
    Redactor r = new Redactor(List.of(secret));
    assertThat(r.redact(before + secret + after)).doesNotContain(secret);
    assertThat(r.count()).isPositive();
  }

  @Property
  void base64OfTheSecret_isMasked_atEveryAlignment_inBothAlphabets(
      @ForAll("longSecrets") String secret, @ForAll @IntRange(max = 5) int prefixBytes,
      @ForAll @IntRange(max = 5) int suffixBytes, @ForAll boolean urlSafe) {
    byte[] s = secret.getBytes(StandardCharsets.UTF_8);
    byte[] data = new byte[prefixBytes + s.length + suffixBytes];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) ('a' + i % 26);
    }
    System.arraycopy(s, 0, data, prefixBytes, s.length);
    Base64.Encoder encoder = urlSafe ? Base64.getUrlEncoder() : Base64.getEncoder();
    String line = "token=" + encoder.encodeToString(data) + " end";
    Redactor r = new Redactor(List.of(secret));
    String out = r.redact(line);
    assertThat(out).contains(Redactor.MASK);
    // What is left cannot be decoded back into the secret.
    assertThat(out).doesNotContain(Redactor.stableBase64(encoder, s, prefixBytes % 3));
  }

  @Test
  void jsonEscapedAndUrlEncodedForms_areMasked() {
    String secret = "pa\"ss\\w0rd<&>";
    Redactor r = new Redactor(List.of(secret));
    String json = "{\"@message\":\"value " + Redactor.jsonEscaped(secret) + "\"}";
    assertThat(r.redact(json)).doesNotContain(Redactor.jsonEscaped(secret)).contains(Redactor.MASK);
    String url = "https://x/?t=" + URLEncoder.encode(secret, StandardCharsets.UTF_8);
    assertThat(r.redact(url)).isEqualTo("https://x/?t=" + Redactor.MASK);
    assertThat(Redactor.jsonEscaped(secret)).isEqualTo("pa\\\"ss\\\\w0rd\\u003c\\u0026\\u003e");
  }

  @Test
  void multiLineSecret_isMaskedLineByLine() {
    // Shaped like a PEM block (not a key): what matters is a secret spanning several lines.
    String pem = "-----BEGIN EXAMPLE SECRET-----\nZXhhbXBsZSBzZWNyZXQgbGluZSBvbmU=\n"
        + "ZXhhbXBsZSBzZWNyZXQgbGluZSB0d28=\n-----END EXAMPLE SECRET-----";
    Redactor r = new Redactor(List.of(pem));
    for (String line : pem.split("\n")) {
      assertThat(r.redact("out: " + line)).isEqualTo("out: " + Redactor.MASK);
    }
  }

  @Test
  void secretsShorterThanTheMinimum_areNotPatterns_andAreCounted() {
    List<String> values = List.of("abc", "", "long-enough");
    Redactor r = new Redactor(values);
    assertThat(r.redact("abc and long-enough")).isEqualTo("abc and " + Redactor.MASK);
    assertThat(Redactor.tooShort(values)).isEqualTo(1);
  }

  @Test
  void secretContainingAnother_isMaskedWhole() {
    Redactor r = new Redactor(List.of("abcd", "xxabcdxx"));
    assertThat(r.redact("[xxabcdxx]")).isEqualTo("[" + Redactor.MASK + "]");
  }

  @Test
  void everyOccurrence_isCounted() {
    Redactor r = new Redactor(List.of("s3cr3t"));
    r.redact("s3cr3t s3cr3t");
    r.redact("and s3cr3t");
    assertThat(r.count()).isEqualTo(3);
  }

  @Provide
  Arbitrary<String> secrets() {
    return Arbitraries.strings().withCharRange('!', '~').withChars('é', '€', ' ')
        .ofMinLength(Redactor.MIN_SECRET_LENGTH).ofMaxLength(40);
  }

  @Provide
  Arbitrary<String> longSecrets() {
    // Long enough that every alignment leaves an encoded fragment worth matching.
    return Arbitraries.strings().withCharRange('!', '~').ofMinLength(9).ofMaxLength(48);
  }
}
