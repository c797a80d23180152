package dev.outpost.agent.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Per-launch cgroups, created below the agent's own cgroup of each controller (so a job never
 * leaves the agent's container or systemd slice). v1 (a hierarchy per controller, as on hosts
 * with cgroup v1 or hybrid mounts) and v2 (one hierarchy; the controller must be enabled in the
 * agent cgroup's cgroup.subtree_control, which needs systemd Delegate= or an equivalent).
 */
final class Cgroups {
  private static final Path MOUNTS = Path.of("/proc/self/mounts");
  private static final Path SELF = Path.of("/proc/self/cgroup");

  /** Thrown with the reason the log shows after "not in force". */
  static final class Unavailable extends Exception {
    private static final long serialVersionUID = 1L;

    Unavailable(String reason) {
      super(reason);
    }
  }

  private Cgroups() {}

  /** A limit file and its value, in v1 and in v2 spelling. */
  record Limit(String controller, String v1File, String v1Value, String v2File, String v2Value) {
    /** The common shape: v2 file {@code <controller>.max}, the same value in both. */
    static Limit max(String controller, String v1File, long value) {
      return new Limit(controller, v1File, Long.toString(value), controller + ".max",
          Long.toString(value));
    }
  }

  /** Creates {@code name} below the agent's cgroup of the limit's controller and writes it. */
  static Path create(Limit limit, String name) throws Unavailable {
    Location where = locate(limit.controller());
    Path dir = where.parent().resolve(name);
    try {
      if (!Files.isDirectory(dir)) {
        Files.createDirectory(dir);
      }
      if (where.v2()) {
        Files.writeString(dir.resolve(limit.v2File()), limit.v2Value());
      } else {
        Files.writeString(dir.resolve(limit.v1File()), limit.v1Value());
      }
      return dir;
    } catch (IOException | RuntimeException e) {
      remove(List.of(dir));
      throw new Unavailable("no cgroup access: cannot create " + dir + " (" + e.getMessage() + ")");
    }
  }

  /** rmdir, best effort: a cgroup with processes left in it stays until they are gone. */
  static void remove(Collection<Path> dirs) {
    for (Path dir : dirs) {
      try {
        Files.deleteIfExists(dir);
      } catch (IOException ignored) {
        // busy or already gone
      }
    }
  }

  private record Location(Path parent, boolean v2) {}

  private static Location locate(String controller) throws Unavailable {
    List<String> mounts = lines(MOUNTS);
    List<String> self = lines(SELF);
    for (String m : mounts) {
      String[] f = m.split(" ");
      if (f.length >= 4 && f[2].equals("cgroup") && List.of(f[3].split(",")).contains(controller)) {
        Optional<String> own = ownPath(self, controller);
        if (own.isEmpty()) {
          throw new Unavailable("no cgroup access: " + controller + " not in " + SELF);
        }
        return new Location(Path.of(f[1] + own.get()), false);
      }
    }
    for (String m : mounts) {
      String[] f = m.split(" ");
      if (f.length >= 3 && f[2].equals("cgroup2")) {
        Path own = Path.of(f[1] + ownPath(self, "").orElse("/"));
        // v2 lets only a cgroup without processes of its own hand controllers to children, so
        // job cgroups go below the agent's cgroup when it delegates the controller, else
        // beside it: systemd's Delegate= with DelegateSubgroup= starts the agent one level
        // below the delegated cgroup.
        for (Path parent : own.getParent() == null ? List.of(own) : List.of(own,
            own.getParent())) {
          if (parent.startsWith(f[1]) && delegates(parent, controller)) {
            return new Location(parent, true);
          }
        }
        throw new Unavailable("no cgroup access: cgroup v2 controller " + controller
            + " is not delegated to " + own + " or its parent (cgroup.subtree_control)");
      }
    }
    throw new Unavailable("no cgroup access: no " + controller + " controller is mounted");
  }

  private static boolean delegates(Path cgroup, String controller) {
    try {
      String enabled = Files.readString(cgroup.resolve("cgroup.subtree_control"),
          StandardCharsets.UTF_8);
      return List.of(enabled.trim().split(" ")).contains(controller)
          && Files.isWritable(cgroup);
    } catch (IOException e) {
      return false;
    }
  }

  /** "4:memory:/a/b" -> "/a/b" for memory; the v2 line is "0::/path" (controller ""). */
  private static Optional<String> ownPath(List<String> self, String controller) {
    for (String line : self) {
      String[] f = line.split(":", 3);
      if (f.length == 3 && (controller.isEmpty() ? f[1].isEmpty()
          : List.of(f[1].split(",")).contains(controller))) {
        return Optional.of(f[2].equals("/") ? "" : f[2]);
      }
    }
    return Optional.empty();
  }

  private static List<String> lines(Path file) throws Unavailable {
    return List.of(read(file).split("\n"));
  }

  private static String read(Path file) throws Unavailable {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new Unavailable("no cgroup access: cannot read " + file);
    }
  }
}
