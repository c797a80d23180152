package dev.outpost.agent.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The bookkeeping files a launch leaves in its control directory. They, not JVM objects, are
 * the truth about a process, so a restarted JVM sees exactly what the old one saw.
 */
final class ControlFiles {
  static final String SANDBOX = "sandbox";
  /** "PID STARTTIME" of the launched process (outer bwrap, or the command itself for "none"). */
  static final String PID = "pid";
  /** bwrap --info-fd: {"child-pid": N, ...}, N = host PID of the sandbox's init. */
  static final String INFO = "info.json";
  /** bwrap --json-status-fd: the info object, then {"exit-code": N} at the end. */
  static final String STATUS = "status.json";
  /** Exit status as the wrapper's `wait` saw it (128+N for a signal), written atomically. */
  static final String EXIT = "exit";

  /** The limits the launch enforces ({@link LimitsInForce#serialize()}). */
  static final String LIMITS = "limits";
  /** The launch's cgroup directories, one a line; removed when it ends. */
  static final String CGROUPS = "cgroups";

  private final Path dir;
  /** status.json's length when it was last found without an exit code: unchanged, unread. */
  private volatile long statusSeenWithoutExit = -1;
  /** From info.json, written once when the sandbox is set up. */
  private volatile Long childPid;
  private volatile Long pidNamespace;

  ControlFiles(Path dir) {
    this.dir = dir;
  }

  Path dir() {
    return dir;
  }

  Optional<String> sandboxName() {
    return read(SANDBOX).map(String::trim);
  }

  /** [pid, startTime] once the wrapper recorded them. */
  Optional<long[]> launched() {
    return read(PID).flatMap(text -> {
      String[] parts = text.trim().split(" ");
      if (parts.length != 2) {
        return Optional.empty();
      }
      try {
        return Optional.of(new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])});
      } catch (NumberFormatException e) {
        return Optional.empty();
      }
    });
  }

  LimitsInForce limits() {
    return read(LIMITS).map(LimitsInForce::parse)
        .orElseGet(() -> new LimitsInForce(java.util.Map.of(), java.util.Map.of()));
  }

  java.util.List<Path> cgroups() {
    return read(CGROUPS).map(t -> t.lines().filter(l -> !l.isBlank()).map(Path::of).toList())
        .orElse(java.util.List.of());
  }

  Optional<Integer> wrapperExit() {
    return read(EXIT).flatMap(ControlFiles::parseInt);
  }

  Optional<Long> bwrapChildPid() {
    if (childPid == null) {
      jsonValues(INFO, "child-pid").ifPresent(p -> childPid = p);
    }
    return Optional.ofNullable(childPid);
  }

  /** Inode of the sandbox's PID namespace: identifies the init PID even after reparenting. */
  Optional<Long> bwrapPidNamespace() {
    if (pidNamespace == null) {
      jsonValues(INFO, "pid-namespace").ifPresent(n -> pidNamespace = n);
    }
    return Optional.ofNullable(pidNamespace);
  }

  /** Looked at while the command runs, so a status file that has not grown is not read again. */
  Optional<Integer> bwrapExitCode() {
    long length = dir.resolve(STATUS).toFile().length();
    if (length == statusSeenWithoutExit) {
      return Optional.empty();
    }
    Optional<Integer> code = jsonValues(STATUS, "exit-code").map(Long::intValue);
    if (code.isEmpty()) {
      statusSeenWithoutExit = length;
    }
    return code;
  }

  /** bwrap writes a stream of JSON objects (pretty-printed or one a line); find the field. */
  private Optional<Long> jsonValues(String file, String field) {
    Optional<String> text = read(file);
    if (text.isEmpty()) {
      return Optional.empty();
    }
    try {
      for (java.util.Map<String, Object> object : dev.outpost.agent.daemon.FlatJson.objects(
          text.get())) {
        if (object.get(field) instanceof Long value) {
          return Optional.of(value);
        }
      }
    } catch (IOException | RuntimeException e) {
      // a half-written object: treat as not yet known
    }
    return Optional.empty();
  }

  private Optional<String> read(String name) {
    Path file = dir.resolve(name);
    if (!file.toFile().exists()) {
      return Optional.empty(); // the usual answer while a command runs, found without an exception
    }
    try {
      return Optional.of(Files.readString(file, StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static Optional<Integer> parseInt(String text) {
    try {
      return Optional.of(Integer.parseInt(text.trim()));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }
}
