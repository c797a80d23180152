package dev.outpost.agent.workspace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ArchiveExtractorTest {
  @TempDir Path tmp;

  interface Build {
    Archives apply(Archives a) throws IOException;
  }

  static Stream<Arguments> malicious() {
    return Stream.of(
        Arguments.of("absolute path", "/tmp/outpost-evil", (Build) a -> a.file("/tmp/outpost-evil", "x")),
        Arguments.of("dot-dot escape", "../evil", (Build) a -> a.file("ok.tf", "").file("../evil", "x")),
        Arguments.of("dot-dot inside then out", "a/../../evil", (Build) a -> a.file("a/../../evil", "x")),
        Arguments.of("symlink to /etc/passwd, then written through", "passwd",
            (Build) a -> a.symlink("passwd", "/etc/passwd").file("passwd", "root::0:0::/:/bin/sh")),
        Arguments.of("relative symlink escaping", "up", (Build) a -> a.symlink("up", "../../etc").file("up/x", "x")),
        Arguments.of("symlink chain escaping", "l",
            (Build) a -> a.symlink("d", ".").symlink("l", "d/..")),
        Arguments.of("file written through an inner symlink", "inner/x",
            (Build) a -> a.dir("sub").symlink("inner", "sub").file("inner/x", "x")),
        Arguments.of("hardlink outside", "h", (Build) a -> a.hardlink("h", "/etc/passwd")),
        Arguments.of("hardlink escaping", "h", (Build) a -> a.hardlink("h", "../../etc/passwd")),
        Arguments.of("hardlink to a missing entry", "h", (Build) a -> a.hardlink("h", "nope")),
        Arguments.of("character device", "tty", (Build) a -> a.special("tty", TarConstants.LF_CHR)),
        Arguments.of("block device", "sda", (Build) a -> a.special("sda", TarConstants.LF_BLK)),
        Arguments.of("fifo", "pipe", (Build) a -> a.special("pipe", TarConstants.LF_FIFO)),
        Arguments.of("duplicate entry", "main.tf", (Build) a -> a.file("main.tf", "a").file("main.tf", "b")),
        Arguments.of("duplicate after normalization", "./main.tf",
            (Build) a -> a.file("main.tf", "a").file("./main.tf", "b")),
        Arguments.of("too many entries", "f5", (Build) a -> {
          for (int i = 0; i < 6; i++) {
            a.file("f" + i, "");
          }
          return a;
        }),
        Arguments.of("file too big", "big", (Build) a -> a.file("big", new byte[2000], 0644)),
        Arguments.of("total too big", "b3", (Build) a -> a.file("b1", new byte[900], 0644)
            .file("b2", new byte[900], 0644).file("b3", new byte[900], 0644)),
        Arguments.of("too deep", "a/b/c/d/e", (Build) a -> a.file("a/b/c/d/e", "x")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malicious")
  void extract_maliciousArchive_isRefusedNamingTheEntry_andLeavesNothing(String why, String entry, Build build)
      throws Exception {
    byte[] archive = build.apply(new Archives()).bytes();
    Path target = tmp.resolve("job/source");
    ArchiveExtractor small = new ArchiveExtractor(new ExtractionLimits(2000, 5, 1000, 4));

    assertThatThrownBy(() -> small.extract(new ByteArrayInputStream(archive), target))
        .isInstanceOf(ArchiveException.class)
        .hasMessageContaining("'" + entry + "'");

    assertThat(target).doesNotExist();
    try (Stream<Path> left = Files.list(tmp.resolve("job"))) {
      assertThat(left).isEmpty();
    }
    assertThat(Path.of("/tmp/outpost-evil")).doesNotExist();
    assertThat(tmp.resolve("evil")).doesNotExist();
  }

  @Test
  void extract_normalArchive_keepsTreeContentExecutableBitAndInnerLinks() throws Exception {
    byte[] archive = new Archives()
        .dir("./")
        .dir("modules/net")
        .file("main.tf", "terraform {}")
        .file("modules/net/main.tf", "# net")
        .file("scripts/deep/run.sh", "#!/bin/sh\necho hi\n".getBytes(), 0755)
        .symlink("modules/current", "net")
        .symlink("scripts/up", "../main.tf")
        .hardlink("copy.tf", "main.tf")
        .bytes();
    Path target = tmp.resolve("source");

    new ArchiveExtractor().extract(new ByteArrayInputStream(archive), target);

    assertThat(target.resolve("main.tf")).hasContent("terraform {}");
    assertThat(target.resolve("modules/current/main.tf")).hasContent("# net");
    assertThat(target.resolve("scripts/up")).hasContent("terraform {}");
    assertThat(target.resolve("copy.tf")).hasContent("terraform {}");
    assertThat(Files.getPosixFilePermissions(target.resolve("scripts/deep/run.sh")))
        .contains(PosixFilePermission.OWNER_EXECUTE);
    assertThat(Files.getPosixFilePermissions(target.resolve("main.tf")))
        .doesNotContain(PosixFilePermission.OWNER_EXECUTE);
    try (Stream<Path> siblings = Files.list(tmp)) {
      assertThat(siblings).containsExactly(target); // the staging dir was renamed, not copied
    }
  }

  @Test
  void extract_notGzip_isRefused() {
    assertThatThrownBy(() -> new ArchiveExtractor()
        .extract(new ByteArrayInputStream("plain text".getBytes()), tmp.resolve("s")))
        .isInstanceOf(ArchiveException.class).hasMessageContaining("not a readable tar.gz");
    assertThat(tmp.resolve("s")).doesNotExist();
  }

  @Test
  void extract_intoNonEmptyTarget_isRefused() throws Exception {
    Files.createDirectories(tmp.resolve("s"));
    Files.writeString(tmp.resolve("s/existing"), "x");
    byte[] archive = new Archives().file("a", "b").bytes();
    assertThatThrownBy(() -> new ArchiveExtractor().extract(new ByteArrayInputStream(archive), tmp.resolve("s")))
        .isInstanceOf(IOException.class).hasMessageContaining("not an empty directory");
  }
}
