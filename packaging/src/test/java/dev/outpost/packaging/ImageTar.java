package dev.outpost.packaging;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** An image in `docker save` form (manifest.json, config, layer tars), unpacked with tar. */
final class ImageTar {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String WHITEOUT = ".wh.";
  private static final String OPAQUE = ".wh..wh..opq";

  final Path dir;
  final JsonNode manifest;
  final JsonNode config;

  private ImageTar(Path dir, JsonNode manifest, JsonNode config) {
    this.dir = dir;
    this.manifest = manifest;
    this.config = config;
  }

  static ImageTar unpack(Path tar, Path dir) throws Exception {
    Files.createDirectories(dir);
    Proc.ok(List.of("tar", "-xf", tar.toString(), "-C", dir.toString()));
    JsonNode manifest = JSON.readTree(dir.resolve("manifest.json").toFile());
    if (!manifest.isArray() || manifest.size() != 1) {
      throw new AssertionError("manifest.json should describe one image: " + manifest);
    }
    JsonNode config = JSON.readTree(dir.resolve(manifest.get(0).get("Config").asText()).toFile());
    return new ImageTar(dir, manifest.get(0), config);
  }

  List<Path> layers() {
    List<Path> layers = new ArrayList<>();
    manifest.get("Layers").forEach(l -> layers.add(dir.resolve(l.asText())));
    return layers;
  }

  /** The entries of LAYER as tar lists them. */
  static List<String> entries(Path layer) throws Exception {
    return Proc.ok(List.of("tar", "-tzf", layer.toString())).stdout().lines().toList();
  }

  /** Extracts the layers in order into ROOTFS, applying whiteouts (a deleted file, an opaque directory). */
  void extractInto(Path rootfs) throws Exception {
    Files.createDirectories(rootfs);
    for (Path layer : layers()) {
      List<String> entries = entries(layer);
      for (String e : entries) {
        String name = e.endsWith("/") ? e.substring(0, e.length() - 1) : e;
        Path path = Path.of(name);
        String base = path.getFileName().toString();
        Path parent = path.getParent() == null ? Path.of("") : path.getParent();
        if (base.equals(OPAQUE)) {
          clearDirectory(rootfs.resolve(parent.toString()));
        } else if (base.startsWith(WHITEOUT)) {
          delete(rootfs.resolve(parent.toString()).resolve(base.substring(WHITEOUT.length())));
        }
      }
      // Keeps owners and modes as the layer has them (the tests run as root).
      Proc.ok(List.of("tar", "-xzpf", layer.toString(), "-C", rootfs.toString(),
          "--exclude=.wh.*", "--exclude=*/.wh.*"));
    }
  }

  private static void clearDirectory(Path dir) throws IOException {
    if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      try (Stream<Path> children = Files.list(dir)) {
        for (Path c : (Iterable<Path>) children::iterator) {
          delete(c);
        }
      }
    }
  }

  /** Deletes PATH and what is under it, links as links. */
  static void delete(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
      try (Stream<Path> all = Files.walk(path)) {
        for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
          Files.delete(p);
        }
      }
    } else {
      Files.delete(path);
    }
  }
}
