package dev.outpost.agent.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The content of a set of files, to notice when an operator (or cert-manager, which swaps a
 * symlinked directory) replaces a key or certificate. Content, not timestamps: an atomic rename
 * can keep the modification time.
 */
final class FileFingerprint {
  private final List<Path> files;

  FileFingerprint(List<Path> files) {
    this.files = files.stream().filter(Objects::nonNull).toList();
  }

  byte[] current() {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      for (Path file : files) {
        digest.update(file.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        try {
          digest.update(Files.readAllBytes(file));
        } catch (IOException e) {
          digest.update((byte) 0);
        }
      }
      return digest.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static boolean same(byte[] a, byte[] b) {
    return Arrays.equals(a, b);
  }
}
