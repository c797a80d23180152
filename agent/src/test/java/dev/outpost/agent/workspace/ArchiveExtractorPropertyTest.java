package dev.outpost.agent.workspace;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterTry;
import net.jqwik.api.lifecycle.BeforeTry;

/** Whatever the entry names, nothing is ever written outside the target. */
class ArchiveExtractorPropertyTest {
  private Path sandbox;

  @BeforeTry
  void createSandbox() throws IOException {
    sandbox = Files.createTempDirectory("outpost-archive-prop");
  }

  @AfterTry
  void removeSandbox() throws IOException {
    try (Stream<Path> paths = Files.walk(sandbox)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  @Property(tries = 300)
  void randomEntryNames_neverProduceAFileOutsideTheTarget(
      @ForAll("entries") List<String> names, @ForAll("linkTargets") String linkTarget) throws Exception {
    // Layout: sandbox/outside-marker, sandbox/job/source = target. Anything new outside
    // job/source after extraction is an escape.
    Path target = sandbox.resolve("job/source");
    Files.createDirectories(target.getParent());
    Archives archive = new Archives();
    for (int i = 0; i < names.size(); i++) {
      if (i % 3 == 2) {
        archive.symlink(names.get(i), linkTarget);
      } else {
        archive.file(names.get(i), "x" + i);
      }
    }
    byte[] bytes = archive.bytes();

    try {
      new ArchiveExtractor().extract(new ByteArrayInputStream(bytes), target);
    } catch (ArchiveException refused) {
      assertThat(target).doesNotExist();
    }

    try (Stream<Path> all = Files.walk(sandbox)) { // walk does not follow links
      assertThat(all.filter(p -> !p.equals(sandbox) && !p.equals(sandbox.resolve("job"))))
          .allMatch(p -> p.startsWith(target));
    }
    if (Files.exists(target)) {
      try (Stream<Path> all = Files.walk(target)) {
        for (Path p : all.toList()) {
          if (Files.isSymbolicLink(p) && Files.exists(p)) {
            assertThat(p.toRealPath()).startsWith(target.toRealPath());
          }
        }
      }
    }
  }

  @Provide
  Arbitrary<List<String>> entries() {
    Arbitrary<String> segment = Arbitraries.oneOf(
        Arbitraries.of("..", ".", "", "a", "b", "main.tf", "..."),
        Arbitraries.strings().withChars("ab./\\-_~ ").ofMinLength(1).ofMaxLength(6));
    Arbitrary<String> name = segment.list().ofMinSize(1).ofMaxSize(5)
        .map(parts -> String.join("/", parts))
        .map(n -> n.isEmpty() || n.endsWith("/") ? n + "x" : n); // "a/" would be a directory
    Arbitrary<String> maybeAbsolute = Arbitraries.oneOf(name, name.map(n -> "/" + n));
    return maybeAbsolute.list().ofMinSize(1).ofMaxSize(6);
  }

  @Provide
  Arbitrary<String> linkTargets() {
    return Arbitraries.of(".", "..", "a", "../..", "/etc", "a/../..", "b/../a", "../source/a", "x/y");
  }
}
