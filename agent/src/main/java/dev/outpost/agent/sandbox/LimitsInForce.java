package dev.outpost.agent.sandbox;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Which requested limits a launch actually enforces, for the job log. Keys are the short names
 * the log uses: nofile, fsize, core, pids, memory, cpu.
 *
 * @param inForce name to the value in force ("1GiB", "512")
 * @param notInForce name to the reason it is not ("no cgroup access: ...", "not configured")
 */
public record LimitsInForce(Map<String, String> inForce, Map<String, String> notInForce) {

  public LimitsInForce {
    inForce = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(inForce));
    notInForce = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(notInForce));
  }

  public boolean has(String name) {
    return inForce.containsKey(name);
  }

  /** "limits in force: nofile=1024, core=0; not in force: memory (no cgroup access)". */
  public String summary() {
    String in = inForce.isEmpty() ? "none" : inForce.entrySet().stream()
        .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", "));
    String out = notInForce.entrySet().stream()
        .map(e -> e.getKey() + " (" + e.getValue() + ")").collect(Collectors.joining(", "));
    return "limits in force: " + in + (out.isEmpty() ? "" : "; not in force: " + out);
  }

  /** One line per limit, "+name=value" or "-name=reason": the control file's format. */
  String serialize() {
    StringBuilder b = new StringBuilder();
    inForce.forEach((k, v) -> b.append('+').append(k).append('=').append(oneLine(v)).append('\n'));
    notInForce.forEach((k, v) -> b.append('-').append(k).append('=').append(oneLine(v)).append('\n'));
    return b.toString();
  }

  static LimitsInForce parse(String text) {
    Map<String, String> in = new LinkedHashMap<>();
    Map<String, String> out = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      int eq = line.indexOf('=');
      if (line.length() > 1 && eq > 1) {
        (line.charAt(0) == '+' ? in : out).put(line.substring(1, eq), line.substring(eq + 1));
      }
    }
    return new LimitsInForce(in, out);
  }

  private static String oneLine(String s) {
    return s.replace('\n', ' ');
  }
}
