package dev.outpost.agent.workspace;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * Unpacks an untrusted tar.gz. Everything is refused rather than skipped or truncated, and the
 * work happens in a staging directory beside the target that is renamed into place at the end,
 * so a refused archive leaves nothing half-written.
 */
public final class ArchiveExtractor {
  private final ExtractionLimits limits;

  public ArchiveExtractor() {
    this(ExtractionLimits.defaults());
  }

  public ArchiveExtractor(ExtractionLimits limits) {
    this.limits = limits;
  }

  public void extract(Path tarGz, Path target) throws IOException, ArchiveException {
    try (InputStream in = Files.newInputStream(tarGz)) {
      extract(in, target);
    }
  }

  /** @param target must not exist, or be an empty directory */
  public void extract(InputStream tarGz, Path target) throws IOException, ArchiveException {
    Path dest = target.toAbsolutePath().normalize();
    if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
      if (!Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS) || !isEmpty(dest)) {
        throw new IOException("extraction target " + dest + " exists and is not an empty directory");
      }
    }
    Path parent = Files.createDirectories(dest.getParent());
    Path staging = Files.createTempDirectory(parent, "." + dest.getFileName() + ".extract-",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    boolean done = false;
    try {
      unpack(tarGz, staging);
      Files.deleteIfExists(dest);
      Files.move(staging, dest, StandardCopyOption.ATOMIC_MOVE);
      done = true;
    } finally {
      if (!done) {
        Trees.deleteRecursively(staging);
      }
    }
  }

  private void unpack(InputStream tarGz, Path root) throws IOException, ArchiveException {
    Set<Path> seen = new HashSet<>();
    Set<Path> regularFiles = new HashSet<>();
    List<Path> symlinks = new ArrayList<>();
    long total = 0;
    int count = 0;
    try (TarArchiveInputStream tar = open(tarGz)) {
      TarArchiveEntry entry;
      while ((entry = next(tar)) != null) {
        String name = entry.getName();
        if (++count > limits.maxEntries()) {
          throw ArchiveException.entry(name, "more than " + limits.maxEntries() + " entries");
        }
        Path rel = relativePath(name);
        if (rel == null) {
          continue; // "./": the root itself, which already exists
        }
        if (!seen.add(rel)) {
          throw ArchiveException.entry(name, "duplicate entry");
        }
        Path path = root.resolve(rel);
        createParents(root, rel, name);
        if (entry.isDirectory()) {
          mkdir(path, name);
        } else if (entry.isSymbolicLink()) {
          symlink(root, path, entry.getLinkName(), name);
          symlinks.add(path);
        } else if (entry.isLink()) {
          hardlink(root, path, entry.getLinkName(), regularFiles, name);
        } else if (isRegularFile(entry)) {
          if (entry.getSize() > limits.maxFileBytes()) {
            throw ArchiveException.entry(name, "size " + entry.getSize()
                + " exceeds the per-file limit of " + limits.maxFileBytes() + " bytes");
          }
          total += write(tar, path, name, limits.maxTotalBytes() - total);
          setMode(path, (entry.getMode() & 0100) != 0 ? "rwx------" : "rw-------");
          regularFiles.add(rel);
        } else {
          throw ArchiveException.entry(name, "unsupported entry type '" + (char) entry.getLinkFlag()
              + "' (device, fifo or other special file; only files, directories and links)");
        }
      }
    }
    checkSymlinksResolveInside(root, symlinks);
  }

  /**
   * By type flag, not isFile(): commons-compress calls anything that is not a directory a
   * file, devices and fifos included.
   */
  private static boolean isRegularFile(TarArchiveEntry entry) {
    byte flag = entry.getLinkFlag();
    return flag == TarConstants.LF_NORMAL || flag == TarConstants.LF_OLDNORM
        || flag == TarConstants.LF_CONTIG;
  }

  private static TarArchiveInputStream open(InputStream tarGz) throws ArchiveException {
    try {
      return new TarArchiveInputStream(new GzipCompressorInputStream(new BufferedInputStream(tarGz)));
    } catch (IOException e) {
      throw unreadable(e);
    }
  }

  private static TarArchiveEntry next(TarArchiveInputStream tar) throws ArchiveException {
    try {
      return tar.getNextEntry();
    } catch (IOException e) {
      throw unreadable(e);
    }
  }

  private static ArchiveException unreadable(IOException e) {
    return new ArchiveException("archive is not a readable tar.gz: " + e.getMessage(), e);
  }

  /**
   * The lexical check per entry misses chains (a link to "." followed by a link to "that/..");
   * once all links exist, the kernel's resolution is the truth.
   */
  private static void checkSymlinksResolveInside(Path root, List<Path> symlinks)
      throws IOException, ArchiveException {
    Path realRoot = root.toRealPath();
    for (Path link : symlinks) {
      Path real;
      try {
        real = link.toRealPath();
      } catch (NoSuchFileException e) {
        continue; // dangling, and lexically inside: harmless
      } catch (FileSystemException e) {
        throw ArchiveException.entry(root.relativize(link).toString(), "symlink does not resolve: " + e.getMessage());
      }
      if (!real.startsWith(realRoot)) {
        throw ArchiveException.entry(root.relativize(link).toString(),
            "symlink resolves outside the target, to " + real);
      }
    }
  }

  /** null for the root itself; refuses absolute names, escaping ".." and over-deep paths. */
  private Path relativePath(String name) throws ArchiveException {
    if (name.isEmpty()) {
      throw ArchiveException.entry(name, "empty name");
    }
    if (name.startsWith("/")) {
      throw ArchiveException.entry(name, "absolute path");
    }
    Path rel;
    try {
      rel = Path.of(name).normalize();
    } catch (InvalidPathException e) {
      throw ArchiveException.entry(name, "invalid path: " + e.getReason());
    }
    if (rel.toString().isEmpty()) {
      return null;
    }
    if (rel.startsWith("..")) {
      throw ArchiveException.entry(name, "path escapes the target directory");
    }
    if (rel.getNameCount() > limits.maxDepth()) {
      throw ArchiveException.entry(name, "deeper than " + limits.maxDepth() + " path segments");
    }
    return rel;
  }

  /** Every existing component must be a real directory: never write through a symlink. */
  private static void createParents(Path root, Path rel, String name)
      throws IOException, ArchiveException {
    Path current = root;
    for (int i = 0; i < rel.getNameCount() - 1; i++) {
      current = current.resolve(rel.getName(i));
      if (Files.isSymbolicLink(current)) {
        throw ArchiveException.entry(name, "path passes through the symlink " + root.relativize(current));
      }
      if (!Files.exists(current, LinkOption.NOFOLLOW_LINKS)) {
        Files.createDirectory(current);
      } else if (!Files.isDirectory(current, LinkOption.NOFOLLOW_LINKS)) {
        throw ArchiveException.entry(name, root.relativize(current) + " is not a directory");
      }
    }
  }

  private static void mkdir(Path path, String name) throws IOException, ArchiveException {
    if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      if (!Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
        throw ArchiveException.entry(name, "a directory where a non-directory already is");
      }
      return; // created implicitly by an earlier entry's parents
    }
    Files.createDirectory(path);
  }

  private static void symlink(Path root, Path path, String target, String name)
      throws IOException, ArchiveException {
    if (target.isEmpty() || target.startsWith("/")) {
      throw ArchiveException.entry(name, "symlink to '" + target + "' points outside the target");
    }
    Path resolved;
    try {
      resolved = path.getParent().resolve(target).normalize();
    } catch (InvalidPathException e) {
      throw ArchiveException.entry(name, "invalid symlink target: " + e.getReason());
    }
    if (!resolved.startsWith(root)) {
      throw ArchiveException.entry(name, "symlink to '" + target + "' points outside the target");
    }
    try {
      Files.createSymbolicLink(path, Path.of(target));
    } catch (FileAlreadyExistsException e) {
      throw ArchiveException.entry(name, "something already exists at this path");
    }
  }

  private static void hardlink(Path root, Path path, String target, Set<Path> regularFiles,
      String name) throws IOException, ArchiveException {
    Path rel;
    try {
      rel = target.startsWith("/") ? null : Path.of(target).normalize();
    } catch (InvalidPathException e) {
      rel = null;
    }
    if (rel == null || rel.startsWith("..") || !regularFiles.contains(rel)) {
      throw ArchiveException.entry(name, "hard link to '" + target
          + "', which is not a regular file extracted earlier from this archive");
    }
    try {
      Files.createLink(path, root.resolve(rel));
    } catch (FileAlreadyExistsException e) {
      throw ArchiveException.entry(name, "something already exists at this path");
    }
  }

  /** Counts what is actually read: the header's size is not trusted. */
  private long write(InputStream in, Path path, String name, long totalLeft)
      throws IOException, ArchiveException {
    long written = 0;
    byte[] buffer = new byte[64 * 1024];
    try (OutputStream out = Files.newOutputStream(path, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
      int n;
      while ((n = read(in, buffer)) > 0) {
        written += n;
        if (written > limits.maxFileBytes()) {
          throw ArchiveException.entry(name, "exceeds the per-file limit of " + limits.maxFileBytes() + " bytes");
        }
        if (written > totalLeft) {
          throw ArchiveException.entry(name, "archive exceeds the total limit of "
              + limits.maxTotalBytes() + " bytes");
        }
        out.write(buffer, 0, n);
      }
    } catch (FileAlreadyExistsException e) {
      throw ArchiveException.entry(name, "something already exists at this path");
    }
    return written;
  }

  private static int read(InputStream in, byte[] buffer) throws ArchiveException {
    try {
      return in.read(buffer);
    } catch (IOException e) {
      throw unreadable(e);
    }
  }

  private static void setMode(Path path, String mode) throws IOException {
    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(mode));
  }

  private static boolean isEmpty(Path dir) throws IOException {
    try (var entries = Files.list(dir)) {
      return entries.findAny().isEmpty();
    }
  }
}
