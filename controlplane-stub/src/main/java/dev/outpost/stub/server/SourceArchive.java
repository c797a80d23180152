package dev.outpost.stub.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Packs a Terraform configuration directory into the tar.gz a job carries. Terraform's own
 * working files (.terraform/, state files) stay out: the state travels with the workspace.
 */
public final class SourceArchive {
  private SourceArchive() {}

  /**
   * Packs {@code dir}; throws {@link IllegalArgumentException} naming the problem when it is not
   * a directory with Terraform configuration or holds a symbolic link.
   */
  public static byte[] pack(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException(dir + " is not a directory");
    }
    List<Path> files;
    try (Stream<Path> walk = Files.walk(dir)) {
      files = walk.filter(p -> !p.equals(dir)).filter(p -> !excluded(dir.relativize(p)))
          .sorted().toList();
    }
    boolean hasConfig = files.stream().anyMatch(p -> p.getParent().equals(dir)
        && (p.getFileName().toString().endsWith(".tf")
            || p.getFileName().toString().endsWith(".tf.json")));
    if (!hasConfig) {
      throw new IllegalArgumentException(dir
          + " contains no Terraform configuration (no *.tf or *.tf.json file at its top level)");
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (OutputStream gz = new GZIPOutputStream(bytes);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(gz)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      for (Path file : files) {
        String name = dir.relativize(file).toString().replace('\\', '/');
        if (Files.isSymbolicLink(file)) {
          throw new IllegalArgumentException(file
              + " is a symbolic link; the job archive takes regular files and directories only");
        }
        boolean directory = Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS);
        TarArchiveEntry entry = new TarArchiveEntry(name + (directory ? "/" : ""));
        entry.setMode(directory ? 0755 : Files.isExecutable(file) ? 0755 : 0644);
        if (!directory) {
          entry.setSize(Files.size(file));
        }
        tar.putArchiveEntry(entry);
        if (!directory) {
          Files.copy(file, tar);
        }
        tar.closeArchiveEntry();
      }
    }
    return bytes.toByteArray();
  }

  private static boolean excluded(Path relative) {
    String first = relative.getName(0).toString();
    String name = relative.getFileName().toString();
    return first.equals(".terraform") || first.equals(".git")
        || name.startsWith("terraform.tfstate") || name.equals(".terraform.lock.hcl.tmp");
  }
}
