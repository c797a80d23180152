package dev.outpost.agent.sandbox;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** How one launch enforces its limits: a prlimit prefix, the cgroups to join, and the report. */
record LimitPlan(List<String> prlimit, List<Path> cgroups, LimitsInForce report) {
  static final Path PRLIMIT = Path.of("/usr/bin/prlimit");
  /** The CFS period both cgroup versions default to. */
  private static final long CPU_PERIOD_MICROS = 100_000;

  static LimitPlan unconfined(SandboxLimits limits) {
    Map<String, String> out = new LinkedHashMap<>();
    wanted(limits).forEach((name, value) -> out.put(name, "sandbox 'none' enforces no limits"));
    return new LimitPlan(List.of(), List.of(), new LimitsInForce(Map.of(), out));
  }

  /** Creates the cgroups now; the caller removes them if the launch fails. */
  static LimitPlan confined(SandboxLimits limits) {
    Map<String, String> in = new LinkedHashMap<>();
    Map<String, String> out = new LinkedHashMap<>();
    Map<String, String> wanted = wanted(limits);
    List<String> prlimit = new ArrayList<>();
    boolean hasPrlimit = Files.isExecutable(PRLIMIT);
    for (String rlimit : List.of("nofile", "fsize", "core")) {
      if (!wanted.containsKey(rlimit)) {
        continue;
      }
      if (hasPrlimit) {
        long v = switch (rlimit) {
          case "nofile" -> limits.openFiles();
          case "fsize" -> limits.fileSizeBytes();
          default -> limits.coreSizeBytes();
        };
        prlimit.add("--" + rlimit + "=" + v + ":" + v); // soft and hard: cannot be raised again
        in.put(rlimit, wanted.get(rlimit));
      } else {
        out.put(rlimit, PRLIMIT + " not found");
      }
    }
    if (!prlimit.isEmpty()) {
      prlimit.add(0, PRLIMIT.toString());
      prlimit.add("--");
    }
    Set<Path> dirs = new LinkedHashSet<>();
    String name = "outpost-" + UUID.randomUUID();
    if (limits.processes() != null) {
      cgroup(wanted, "pids", Cgroups.Limit.max("pids", "pids.max", limits.processes()), name,
          dirs, in, out);
    }
    if (limits.memoryBytes() != null) {
      cgroup(wanted, "memory", Cgroups.Limit.max("memory", "memory.limit_in_bytes",
          limits.memoryBytes()), name, dirs, in, out);
    }
    if (limits.cpuMillis() != null) {
      long quota = limits.cpuMillis() * CPU_PERIOD_MICROS / 1000;
      cgroup(wanted, "cpu", new Cgroups.Limit("cpu", "cpu.cfs_quota_us", Long.toString(quota),
          "cpu.max", quota + " " + CPU_PERIOD_MICROS), name, dirs, in, out);
    }
    for (String k : List.of("nofile", "fsize", "core", "pids", "memory", "cpu")) {
      if (!in.containsKey(k) && !out.containsKey(k)) {
        out.put(k, "not configured");
      }
    }
    return new LimitPlan(prlimit, List.copyOf(dirs), new LimitsInForce(in, out));
  }

  /** What would be in force, without launching anything: for the agent's start-up log. */
  static LimitsInForce check(SandboxLimits limits) {
    LimitPlan plan = confined(limits);
    Cgroups.remove(plan.cgroups());
    return plan.report();
  }

  private static void cgroup(Map<String, String> wanted, String key, Cgroups.Limit limit,
      String name, Set<Path> dirs, Map<String, String> in, Map<String, String> out) {
    try {
      dirs.add(Cgroups.create(limit, name));
      in.put(key, wanted.get(key));
    } catch (Cgroups.Unavailable e) {
      out.put(key, e.getMessage());
    }
  }

  /** Requested limits in log order, rendered; unset ones are absent. */
  private static Map<String, String> wanted(SandboxLimits l) {
    Map<String, String> m = new LinkedHashMap<>();
    put(m, "nofile", l.openFiles() == null ? null : l.openFiles().toString());
    put(m, "fsize", l.fileSizeBytes() == null ? null : SandboxLimits.bytes(l.fileSizeBytes()));
    put(m, "core", l.coreSizeBytes() == null ? null : SandboxLimits.bytes(l.coreSizeBytes()));
    put(m, "pids", l.processes() == null ? null : l.processes().toString());
    put(m, "memory", l.memoryBytes() == null ? null : SandboxLimits.bytes(l.memoryBytes()));
    put(m, "cpu", l.cpuMillis() == null ? null : l.cpuMillis() + "m");
    return m;
  }

  private static void put(Map<String, String> m, String k, String v) {
    if (v != null) {
      m.put(k, v);
    }
  }
}
