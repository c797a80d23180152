package dev.outpost.agent.terraform;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Assumptions;

/**
 * Provider mirrors for tests: the machine's real AWS provider mirror (never at a hard-coded
 * place: {@value #VARIABLE}, else a bounded search), and packed mirrors built at test time.
 */
public final class ProviderMirrors {
  static final String VARIABLE = "OUTPOST_TEST_PROVIDER_MIRROR";
  static final String AWS = "registry.terraform.io/hashicorp/aws/5.100.0";
  /** Where images put a mirror; searched a few levels deep for a registry.terraform.io folder. */
  private static final List<String> LIKELY_ROOTS = List.of("/opt", "/usr/local/share", "/usr/share",
      "/srv", "/var/lib", "/usr/local/lib", System.getProperty("user.home") + "/.terraform.d",
      System.getProperty("user.home"));
  private static final int SEARCH_DEPTH = 4;
  private static Optional<Path> found;

  private ProviderMirrors() {}

  /** The mirror root holding the AWS provider 5.100.0, or the test is skipped, visibly. */
  static Path awsOrSkip() {
    Optional<Path> mirror = aws();
    if (mirror.isEmpty()) {
      String configured = System.getenv(VARIABLE);
      String why = configured != null && !configured.isBlank()
          ? VARIABLE + "=" + configured + " holds no " + AWS + "/linux_amd64/terraform-provider-aws_*"
          : "none found in " + LIKELY_ROOTS + " (" + SEARCH_DEPTH + " levels deep); set " + VARIABLE
              + " to the folder above registry.terraform.io/";
      System.out.println("SKIPPED: no filesystem mirror with the AWS provider 5.100.0: " + why);
      Assumptions.abort("no filesystem mirror with the AWS provider 5.100.0: " + why);
    }
    return mirror.orElseThrow();
  }

  public static synchronized Optional<Path> aws() {
    if (found == null) {
      String configured = System.getenv(VARIABLE);
      found = configured != null && !configured.isBlank()
          ? Optional.of(Path.of(configured).toAbsolutePath()).filter(ProviderMirrors::hasAws)
          : search();
    }
    return found;
  }

  private static Optional<Path> search() {
    for (String root : LIKELY_ROOTS) {
      Path r = Path.of(root);
      if (!Files.isDirectory(r)) {
        continue;
      }
      try (Stream<Path> hits = Files.find(r, SEARCH_DEPTH,
          (p, a) -> a.isDirectory() && p.getFileName() != null
              && p.getFileName().toString().equals("registry.terraform.io"))) {
        Optional<Path> mirror = hits.map(Path::getParent).filter(ProviderMirrors::hasAws).findFirst();
        if (mirror.isPresent()) {
          return mirror;
        }
      } catch (IOException | java.io.UncheckedIOException e) {
        // an unreadable corner of the tree: try the next root
      }
    }
    return Optional.empty();
  }

  private static boolean hasAws(Path mirror) {
    try (Stream<Path> files = Files.list(mirror.resolve(AWS).resolve("linux_amd64"))) {
      return files.anyMatch(f -> f.getFileName().toString().startsWith("terraform-provider-aws_"));
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * A packed mirror ({@code <host>/<namespace>/<type>/terraform-provider-<type>_<version>_<os>_<arch>.zip})
   * around a generated binary of the given size. init only unpacks it; nothing may run it.
   */
  static Path packed(Path root, String host, String namespace, String type, String version,
      int bytes) throws IOException {
    byte[] data = new byte[bytes];
    new Random(42).nextBytes(data);
    byte[] head = "#!/bin/sh\necho 'a test stand-in, not a provider' >&2\nexit 1\n".getBytes();
    System.arraycopy(head, 0, data, 0, head.length);
    return packed(root, host, namespace, type, version, data);
  }

  /** A packed mirror whose "provider" is the given executable's bytes. */
  static Path packed(Path root, String host, String namespace, String type, String version,
      byte[] data) throws IOException {
    int bytes = data.length;
    CRC32 crc = new CRC32();
    crc.update(data);
    Path zip = Files.createDirectories(root.resolve(host).resolve(namespace).resolve(type))
        .resolve("terraform-provider-" + type + "_" + version + "_linux_amd64.zip");
    try (OutputStream out = Files.newOutputStream(zip); ZipOutputStream z = new ZipOutputStream(out)) {
      ZipEntry e = new ZipEntry("terraform-provider-" + type + "_v" + version);
      e.setMethod(ZipEntry.STORED); // random bytes do not compress; storing keeps the build fast
      e.setSize(bytes);
      e.setCompressedSize(bytes);
      e.setCrc(crc.getValue());
      z.putNextEntry(e);
      z.write(data);
      z.closeEntry();
    }
    markExecutable(zip);
    return root;
  }

  /**
   * java.util.zip records no Unix mode, so Terraform would unpack a non-executable file: mark each
   * central directory entry as made on Unix with mode 0755, as release zips are.
   */
  private static void markExecutable(Path zip) throws IOException {
    try (FileChannel ch = FileChannel.open(zip, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer tail = ByteBuffer.allocate(22).order(ByteOrder.LITTLE_ENDIAN);
      ch.read(tail, ch.size() - 22); // end of central directory, no comment
      if (tail.getInt(0) != 0x06054b50) {
        throw new IOException("unexpected zip layout in " + zip);
      }
      int entries = Short.toUnsignedInt(tail.getShort(10));
      long offset = Integer.toUnsignedLong(tail.getInt(16));
      for (int i = 0; i < entries; i++) {
        ByteBuffer header = ByteBuffer.allocate(46).order(ByteOrder.LITTLE_ENDIAN);
        ch.read(header, offset);
        header.putShort(4, (short) 0x0314);               // version made by: Unix, 2.0
        header.putInt(38, 0100755 << 16);                 // external attributes: -rwxr-xr-x
        ch.write(header.flip(), offset);
        offset += 46 + Short.toUnsignedInt(header.getShort(28))
            + Short.toUnsignedInt(header.getShort(30)) + Short.toUnsignedInt(header.getShort(32));
      }
    }
  }
}
