package dev.outpost.agent.workspace;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.function.ToLongFunction;

/**
 * Walks of directory trees that never follow a symlink (a job may plant one pointing anywhere).
 */
public final class Trees {
  private Trees() {}

  /**
   * The sum of {@code charge} over every entry below {@code root} and root itself, as read
   * without following links; entries removed during the walk (another job's record being
   * deleted) or unreadable are left out, and a missing root sums to 0.
   */
  public static long sum(Path root, ToLongFunction<BasicFileAttributes> charge) {
    long[] total = {0};
    try {
      Files.walkFileTree(root, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
          total[0] += charge.applyAsLong(attrs);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          total[0] += charge.applyAsLong(attrs);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path file, IOException e) {
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path dir, IOException e) {
          return FileVisitResult.CONTINUE; // a directory that failed part way: what was read
        }
      });
    } catch (IOException e) {
      throw new IllegalStateException("the visitor throws nothing", e);
    }
    return total[0];
  }

  public static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    // walkFileTree does not follow links unless asked; a link is visited as a file and unlinked.
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.deleteIfExists(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
        if (e instanceof NoSuchFileException) {
          return FileVisitResult.CONTINUE;
        }
        throw e;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null) {
          throw e;
        }
        Files.deleteIfExists(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
