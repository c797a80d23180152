package dev.outpost.agent.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * One line of /proc/PID/stat. The start time (clock ticks since boot) tells a process from a
 * later one that reuses its PID, which matters when a restarted JVM signals PIDs read from files.
 */
record ProcStat(long pid, char state, long ppid, long processGroup, long session, long startTime) {

  private static final Path PROC = Path.of("/proc");

  static Optional<ProcStat> read(long pid) {
    try {
      String line = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"));
      return Optional.of(parse(pid, line));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** The command name (field 2) may contain spaces and parentheses: split after the last ')'. */
  static ProcStat parse(long pid, String line) {
    String[] f = line.substring(line.lastIndexOf(')') + 2).trim().split(" ");
    // f[0] is field 3 (state), so field N is f[N - 3].
    return new ProcStat(
        pid,
        f[0].charAt(0),
        Long.parseLong(f[1]),
        Long.parseLong(f[2]),
        Long.parseLong(f[3]),
        Long.parseLong(f[19]));
  }

  /** The inode in /proc/PID/ns/pid ("pid:[4026532255]"). */
  static Optional<Long> pidNamespace(long pid) {
    try {
      String link = Files.readSymbolicLink(PROC.resolve(Long.toString(pid)).resolve("ns/pid")).toString();
      return Optional.of(Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']'))));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  boolean running() {
    return state != 'Z' && state != 'X';
  }

  /** Live processes of a session; orphans are found here even after their parent died. */
  static List<Long> sessionMembers(long session) {
    List<Long> members = new ArrayList<>();
    try (Stream<Path> entries = Files.list(PROC)) {
      entries
          .map(p -> p.getFileName().toString())
          .filter(n -> n.chars().allMatch(Character::isDigit))
          .map(Long::parseLong)
          .forEach(pid -> read(pid)
              .filter(s -> s.session == session && s.running())
              .ifPresent(s -> members.add(pid)));
    } catch (IOException e) {
      // /proc not listable: report nothing rather than guess
    }
    return members;
  }
}
