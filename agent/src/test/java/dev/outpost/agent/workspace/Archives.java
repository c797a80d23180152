package dev.outpost.agent.workspace;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;

/** Builds tar.gz archives at test time, including ones no honest tool would write. */
final class Archives {
  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final TarArchiveOutputStream tar;

  Archives() throws IOException {
    tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(bytes));
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
  }

  Archives file(String name, String content) throws IOException {
    return file(name, content.getBytes(StandardCharsets.UTF_8), 0644);
  }

  Archives file(String name, byte[] content, int mode) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name, true); // true: keep a leading "/"
    e.setSize(content.length);
    e.setMode(mode);
    tar.putArchiveEntry(e);
    tar.write(content);
    tar.closeArchiveEntry();
    return this;
  }

  Archives dir(String name) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/", true);
    tar.putArchiveEntry(e);
    tar.closeArchiveEntry();
    return this;
  }

  Archives symlink(String name, String target) throws IOException {
    return link(name, target, TarConstants.LF_SYMLINK);
  }

  Archives hardlink(String name, String target) throws IOException {
    return link(name, target, TarConstants.LF_LINK);
  }

  Archives special(String name, byte type) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name, type, true);
    tar.putArchiveEntry(e);
    tar.closeArchiveEntry();
    return this;
  }

  private Archives link(String name, String target, byte type) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name, type, true);
    e.setLinkName(target);
    tar.putArchiveEntry(e);
    tar.closeArchiveEntry();
    return this;
  }

  byte[] bytes() throws IOException {
    tar.close();
    return bytes.toByteArray();
  }
}
