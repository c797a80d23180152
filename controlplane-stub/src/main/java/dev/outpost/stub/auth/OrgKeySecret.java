package dev.outpost.stub.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An org key: {@code opk_<id>_<secret>}. The prefix lets secret scanners recognise a leaked key,
 * the id (12 lowercase hex chars) is the lookup handle stored in clear, and the secret carries
 * 256 bits of entropy. Only the SHA-256 of the whole key is stored; a slow hash is not needed
 * because the secret is random, not a password.
 */
public record OrgKeySecret(String id, String secret) {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Pattern FORMAT = Pattern.compile("opk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})");

  public static OrgKeySecret generate() {
    byte[] id = new byte[6];
    byte[] secret = new byte[32];
    RANDOM.nextBytes(id);
    RANDOM.nextBytes(secret);
    return new OrgKeySecret(HexFormat.of().formatHex(id),
        Base64.getUrlEncoder().withoutPadding().encodeToString(secret));
  }

  /** Parses a presented key; empty when it is not in the key format at all. */
  public static Optional<OrgKeySecret> parse(String presented) {
    if (presented == null) {
      return Optional.empty();
    }
    Matcher m = FORMAT.matcher(presented.trim());
    return m.matches() ? Optional.of(new OrgKeySecret(m.group(1), m.group(2))) : Optional.empty();
  }

  public String value() {
    return "opk_" + id + "_" + secret;
  }

  public byte[] hash() {
    try {
      return MessageDigest.getInstance("SHA-256").digest(value().getBytes(StandardCharsets.US_ASCII));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Constant-time comparison with a stored hash. */
  public boolean matches(byte[] storedHash) {
    return MessageDigest.isEqual(hash(), storedHash);
  }

  @Override
  public String toString() {
    return "opk_" + id + "_(secret)";
  }
}
