package dev.outpost.agent.sandbox;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecuteResultHandler;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.PumpStreamHandler;

/**
 * Starts a detached /bin/sh wrapper through Commons Exec. The wrapper redirects its own output
 * to the job's files before anything else, so no process of the job ever writes to a pipe of
 * the JVM (a dead JVM would SIGPIPE Terraform); it records the pid and, at the end, the exit
 * status, so the JVM can die and a new one can pick up where it left off.
 */
final class Launcher {
  /** Own session: a Ctrl-C or group signal aimed at the JVM does not reach the job. */
  private static final String SETSID = "/usr/bin/setsid";
  private static final Duration PID_WAIT = Duration.ofSeconds(10);
  /** The pid file appears within milliseconds, and the job's first log line waits for it. */
  private static final Duration POLL_CAP = Duration.ofMillis(2);

  /*
   * Positional parameters carry every path, so nothing needs quoting. `env --default-signal`
   * undoes POSIX's rule that an asynchronous command of a non-interactive shell starts with
   * SIGINT ignored (the ignore is inherited through exec and would make interrupt() useless).
   * The pid file holds "PID STARTTIME" (field 22 of /proc/PID/stat, read while the child
   * cannot yet be reaped; 0 if it was gone already) so a later reader can tell a reused PID
   * apart. The launched process joins the launch's cgroups itself, in a subshell, before it
   * execs the command, so every process of the job is counted; one it cannot join ends it with
   * status 125 and says which, rather than leaving a limit reported in force that is not. The
   * wrapper itself never joins: moving a process between cgroups costs a few milliseconds on
   * cgroup v1 (an RCU grace period), and a wrapper inside would have to move out again before
   * the cgroup could go. At the end it removes the launch's cgroups and records the exit.
   */
  private static final String SCRIPT = String.join("\n",
      "umask 077",
      "ctl=$1 out=$2 err=$3 mode=$4 keep_pwd=$5 cgs=$6",
      "shift 6",
      "exec >>\"$out\" 2>>\"$err\" </dev/null",
      "[ \"$keep_pwd\" = yes ] || unset PWD",
      "set -f",
      "if [ \"$mode\" = bubblewrap ]; then exec 3>\"$ctl/info.json\" 4>\"$ctl/status.json\"; fi",
      "IFS='",
      "'",
      // "0" is the writing process: the subshell, which then becomes the command.
      "( for cg in $cgs; do",
      "    echo 0 > \"$cg/cgroup.procs\" || { echo \"outpost: cannot join cgroup $cg\" >&2; exit 125; }",
      "  done",
      "  exec /usr/bin/env --default-signal \"$@\" ) &",
      "pid=$!",
      "unset IFS",
      "exec 3>&- 4>&-",
      "{ read -r st < \"/proc/$pid/stat\"; } 2>/dev/null || st=",
      "st=${st##*) }",
      "set -- $st",
      // One short write: a reader sees the file empty (not launched yet) or whole.
      "echo \"$pid ${20:-0}\" > \"$ctl/pid\"",
      "wait \"$pid\"",
      "rc=$?",
      "if [ -n \"$cgs\" ]; then",
      "  IFS='",
      "'",
      // Killed tasks may still be exiting when bwrap is gone: retry, bounded (about 5 s). The
      // first retries come quickly: the exit is recorded only after this.
      "  for cg in $cgs; do n=0; while [ -d \"$cg\" ] && ! /bin/rmdir \"$cg\" 2>/dev/null"
          + " && [ $n -lt 100 ]; do n=$((n+1)); if [ $n -le 50 ]; then /bin/sleep 0.002;"
          + " else /bin/sleep 0.1; fi; done; done",
      "  unset IFS",
      "fi",
      "echo \"$rc\" > \"$ctl/exit.tmp\" && /bin/mv -f \"$ctl/exit.tmp\" \"$ctl/exit\"",
      "");

  private Launcher() {}

  /**
   * @param argv the program the wrapper runs in the background (bwrap ..., or setsid cmd ...)
   */
  static LaunchedProcess launch(String sandboxName, SandboxSpec spec, List<String> argv,
      LimitPlan limits) throws IOException {
    Path ctl = spec.controlDir();
    prepareControlDir(ctl);
    Files.writeString(ctl.resolve(ControlFiles.SANDBOX), sandboxName + "\n");
    Files.writeString(ctl.resolve(ControlFiles.LIMITS), limits.report().serialize());
    String cgroups = limits.cgroups().stream().map(Path::toString)
        .collect(java.util.stream.Collectors.joining("\n"));
    if (!cgroups.isEmpty()) {
      Files.writeString(ctl.resolve(ControlFiles.CGROUPS), cgroups + "\n");
    }

    CommandLine line = new CommandLine(SETSID);
    for (String arg : List.of("/bin/sh", "-c", SCRIPT, "outpost-launch",
        ctl.toString(), spec.stdoutFile().toString(), spec.stderrFile().toString(), sandboxName,
        spec.environment().containsKey("PWD") ? "yes" : "no", cgroups)) {
      line.addArgument(arg, false);
    }
    argv.forEach(arg -> line.addArgument(arg, false));

    DefaultExecutor executor = DefaultExecutor.builder()
        .setWorkingDirectory(spec.workingDir())
        // The wrapper closes these at once; nothing is pumped for the life of the job.
        .setExecuteStreamHandler(
            new PumpStreamHandler(OutputStream.nullOutputStream(), OutputStream.nullOutputStream()))
        .setThreadFactory(r -> {
          Thread t = new Thread(r, "outpost-launch-" + ctl.getFileName());
          t.setDaemon(true);
          return t;
        })
        .get();
    executor.setExitValues(null);
    DefaultExecuteResultHandler result = new DefaultExecuteResultHandler();
    // Only this map reaches the wrapper: the JVM's own environment is never inherited.
    executor.execute(line, Map.copyOf(spec.environment()), result);

    ControlFiles files = new ControlFiles(ctl);
    awaitPid(files, result, spec);
    return new LaunchedProcess(files, sandboxName);
  }

  private static void prepareControlDir(Path ctl) throws IOException {
    Files.createDirectories(ctl, PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rwx------")));
    try (var entries = Files.list(ctl)) {
      if (entries.findAny().isPresent()) {
        throw new IOException("control directory " + ctl + " was already used by a launch");
      }
    }
  }

  /** A launch that cannot even record its pid (no /bin/sh, no setsid) is an error now. */
  private static void awaitPid(ControlFiles files, DefaultExecuteResultHandler result,
      SandboxSpec spec) throws IOException {
    Instant deadline = Instant.now().plus(PID_WAIT);
    dev.outpost.agent.daemon.Pace pace = new dev.outpost.agent.daemon.Pace(POLL_CAP);
    while (files.launched().isEmpty()) {
      if (result.hasResult() && files.launched().isEmpty()) {
        dev.outpost.agent.ops.AgentMetrics.sandboxFailure("launch");
        throw new IOException("launch of " + spec.command().get(0) + " failed before recording"
            + " a pid (exit " + result.getExitValue() + "): " + failureText(result, spec));
      }
      if (Instant.now().isAfter(deadline)) {
        throw new IOException("launch of " + spec.command().get(0) + " recorded no pid within "
            + PID_WAIT + ": " + failureText(result, spec));
      }
      try {
        pace.pause();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting " + spec.command().get(0), e);
      }
    }
  }

  private static String failureText(DefaultExecuteResultHandler result, SandboxSpec spec) {
    if (result.hasResult() && result.getException() != null) {
      return result.getException().toString();
    }
    try {
      return Files.exists(spec.stderrFile())
          ? tail(Files.readString(spec.stderrFile(), StandardCharsets.UTF_8)) : "no stderr";
    } catch (IOException e) {
      return e.toString();
    }
  }

  static String tail(String text) {
    String trimmed = text.strip();
    return trimmed.length() <= 2000 ? trimmed : trimmed.substring(trimmed.length() - 2000);
  }
}
