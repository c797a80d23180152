package dev.outpost.agent.terraform;

import dev.outpost.agent.workspace.Trees;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The provider cache's entries and their bookkeeping. An entry is a version directory,
 * {@code <host>/<namespace>/<type>/<version>}, Terraform's unpacked layout; it is evicted whole.
 */
final class CacheInventory {
  /** host, namespace, type, version. */
  private static final int ENTRY_DEPTH = 4;

  private CacheInventory() {}

  /**
   * @param key {@code host/namespace/type/version}
   * @param bytes the regular files in it (a symlink into a mirror costs nothing)
   * @param lastUsed from the bookkeeping, else the directory's modification time
   */
  record Entry(String key, Path dir, long bytes, Instant lastUsed) {}

  static List<Entry> scan(Path cacheDir, Map<String, Instant> usage) throws IOException {
    List<Entry> entries = new ArrayList<>();
    try (Stream<Path> dirs = Files.find(cacheDir, ENTRY_DEPTH,
        (p, a) -> a.isDirectory() && cacheDir.relativize(p).getNameCount() == ENTRY_DEPTH)) {
      for (Path d : dirs.toList()) {
        String key = key(cacheDir.relativize(d));
        if (key.startsWith(ProviderCache.META + "/")) {
          continue;
        }
        Instant used = usage.getOrDefault(key,
            Files.getLastModifiedTime(d, LinkOption.NOFOLLOW_LINKS).toInstant());
        entries.add(new Entry(key, d, size(d), used));
      }
    }
    return entries;
  }

  /**
   * Everything unused for longer than unusedAfter, then the least recently used until the rest
   * fits maxBytes; nothing used within grace (a running job may still start it).
   */
  static List<Entry> toEvict(List<Entry> entries, long maxBytes, Instant now,
      Duration unusedAfter, Duration grace) {
    List<Entry> byAge = new ArrayList<>(entries);
    byAge.sort(Comparator.comparing(Entry::lastUsed).thenComparing(Entry::key));
    long total = entries.stream().mapToLong(Entry::bytes).sum();
    List<Entry> evict = new ArrayList<>();
    for (Entry e : byAge) {
      boolean stale = e.lastUsed().isBefore(now.minus(unusedAfter));
      boolean protectedNow = !e.lastUsed().isBefore(now.minus(grace));
      if (stale || (total > maxBytes && !protectedNow)) {
        evict.add(e);
        total -= e.bytes();
      }
    }
    return evict;
  }

  /** The cache entries a working directory's {@code .terraform/providers} links to. */
  static Set<String> linkedFrom(Path workingDir, Path cacheDir) throws IOException {
    Path providers = workingDir.resolve(".terraform").resolve("providers");
    Set<String> keys = new TreeSet<>();
    if (!Files.isDirectory(providers)) {
      return keys;
    }
    // <host>/<namespace>/<type>/<version>/<os_arch> -> <cache>/<same path>
    try (Stream<Path> links = Files.find(providers, ENTRY_DEPTH + 1,
        (p, a) -> a.isSymbolicLink() && providers.relativize(p).getNameCount() == ENTRY_DEPTH + 1)) {
      for (Path link : links.toList()) {
        Path target = link.getParent().resolve(Files.readSymbolicLink(link)).normalize();
        if (target.startsWith(cacheDir)) {
          keys.add(key(cacheDir.relativize(target).subpath(0, ENTRY_DEPTH)));
        }
      }
    }
    return keys;
  }

  /** Removes the entry without following links (a mirror behind a symlink stays untouched). */
  static void delete(Path cacheDir, Entry entry) throws IOException {
    Files.walkFileTree(entry.dir(), new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
    // Empty type, namespace and host directories go too.
    for (Path p = entry.dir().getParent(); !p.equals(cacheDir); p = p.getParent()) {
      try (Stream<Path> children = Files.list(p)) {
        if (children.findAny().isPresent()) {
          break;
        }
      }
      Files.delete(p);
    }
  }

  static Map<String, Instant> readUsage(Path file) throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      p.load(r);
    } catch (NoSuchFileException e) {
      // no init has finished yet
    }
    Map<String, Instant> usage = new TreeMap<>();
    for (String key : p.stringPropertyNames()) {
      try {
        usage.put(key, Instant.parse(p.getProperty(key)));
      } catch (RuntimeException e) {
        // a damaged line counts as unknown: the directory's time stands in for it
      }
    }
    return usage;
  }

  static void writeUsage(Path file, Map<String, Instant> usage) throws IOException {
    Properties p = new Properties();
    usage.forEach((k, v) -> p.setProperty(k, v.toString()));
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      p.store(w, "last use of each provider cache entry, written under the cache lock");
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static long size(Path dir) {
    return Trees.sum(dir, attrs -> attrs.isRegularFile() ? attrs.size() : 0);
  }

  private static String key(Path relative) {
    return relative.toString().replace('\\', '/');
  }
}
