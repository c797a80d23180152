package dev.outpost.agent.sandbox;

import dev.outpost.agent.daemon.Pace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A handle built only from the control files, so a fresh JVM rebuilds an identical one. Every
 * PID read from a file is checked against /proc before it is signalled, since it may have been
 * reused: by start time for the launched process, by PID namespace for the sandbox's init.
 */
final class LaunchedProcess implements SandboxedProcess {
  private static final Duration PGID_WAIT = Duration.ofSeconds(5);
  private static final Duration KILL_WAIT = Duration.ofSeconds(10);
  /** How long a dead launch may take to record its exit before we call it gone. */
  private static final Duration EXIT_SETTLE = Duration.ofSeconds(2);
  /** The longest pause between two looks at the control files or /proc. */
  private static final Duration POLL_CAP = Duration.ofMillis(20);
  private static final Duration CGROUP_WAIT = Duration.ofSeconds(5);

  private final ControlFiles files;
  private final boolean bubblewrap;
  /** Once recorded, an exit status never changes: remembered rather than read again. */
  private volatile Integer exit;
  /** Likewise the pid file, written once at launch. */
  private volatile long[] launched;

  /**
   * The sandbox's init as {@link #sandboxInit} last verified it (PID and start time, so never
   * a reused PID), or null.
   */
  private volatile ProcStat verifiedInit;

  LaunchedProcess(ControlFiles files, String sandboxName) {
    this.files = files;
    this.bubblewrap = Bubblewrap.NAME.equals(sandboxName);
  }

  static Optional<SandboxedProcess> reattach(Path controlDir) {
    ControlFiles files = new ControlFiles(controlDir);
    Optional<String> name = files.sandboxName();
    if (name.isEmpty() || files.launched().isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new LaunchedProcess(files, name.get()));
  }

  @Override
  public long processGroupId() {
    Instant deadline = Instant.now().plus(PGID_WAIT);
    Pace pace = new Pace(POLL_CAP);
    while (true) {
      Optional<Long> pgid = knownGroup();
      if (pgid.isPresent()) {
        return pgid.get();
      }
      if (exitCode().isPresent() || Instant.now().isAfter(deadline)) {
        throw new IllegalStateException("no process group recorded in " + files.dir());
      }
      pause(pace);
    }
  }

  /** For bubblewrap the inner bwrap's host PID: --new-session made it the group leader. */
  private Optional<Long> knownGroup() {
    return bubblewrap ? files.bwrapChildPid() : launched().map(l -> l[0]);
  }

  @Override
  public Optional<Integer> exitCode() {
    if (exit != null) {
      return Optional.of(exit);
    }
    // bwrap's own report survives even if the wrapper shell was killed.
    Optional<Integer> code = bubblewrap ? files.bwrapExitCode() : Optional.empty();
    code = code.isPresent() ? code : files.wrapperExit();
    code.ifPresent(c -> exit = c);
    return code;
  }

  @Override
  public Optional<Integer> waitFor(Duration timeout) throws InterruptedException {
    Instant deadline = Instant.now().plus(timeout);
    Instant goneSince = null;
    Pace pace = new Pace(POLL_CAP);
    while (true) {
      Optional<Integer> code = exitCode();
      if (code.isPresent()) {
        return code;
      }
      Instant now = Instant.now();
      if (!launchedRunning()) {
        goneSince = goneSince == null ? now : goneSince;
        if (now.isAfter(goneSince.plus(EXIT_SETTLE))) {
          return Optional.empty(); // ended without a recorded status (wrapper killed)
        }
      }
      if (now.isAfter(deadline)) {
        return Optional.empty();
      }
      pace.pause();
    }
  }

  @Override
  public boolean isAlive() {
    return exitCode().isEmpty() && launchedRunning();
  }

  @Override
  public void interrupt() {
    if (exitCode().isPresent()) {
      return;
    }
    if (bubblewrap) {
      waitForGroup();
      sandboxInit().ifPresent(Signals::interruptGroup);
    } else if (launchedRunning()) {
      launched().ifPresent(l -> Signals.interruptGroup(l[0]));
    }
  }

  @Override
  public void kill() {
    if (bubblewrap) {
      // SIGKILL to the namespace's init makes the kernel kill everything inside; killing the
      // outer bwrap instead would leave all of it running.
      if (exitCode().isEmpty()) {
        waitForGroup();
      }
      Optional<Long> init = sandboxInit();
      if (init.isPresent()) {
        Signals.kill(init.get());
      } else if (launchedRunning()) {
        launched().ifPresent(l -> Signals.kill(l[0])); // still setting up: no init yet
      }
    } else {
      launched().ifPresent(l -> {
        if (launchedRunning() || !ProcStat.sessionMembers(l[0]).isEmpty()) {
          Signals.killGroup(l[0]);
        }
      });
    }
  }

  @Override
  public Optional<Integer> stop(Duration grace) throws InterruptedException {
    if (exitCode().isEmpty() && launchedRunning()) {
      interrupt();
      if (waitFor(grace).isEmpty()) {
        kill();
        waitFor(KILL_WAIT);
      }
    }
    killStragglers();
    removeCgroups();
    return exitCode();
  }

  /** The wrapper removes them too, but it may have been killed or lost a race with the kill. */
  private void removeCgroups() throws InterruptedException {
    List<Path> dirs = files.cgroups();
    Instant deadline = Instant.now().plus(CGROUP_WAIT);
    Pace pace = new Pace(POLL_CAP);
    while (true) {
      Cgroups.remove(dirs);
      if (dirs.stream().noneMatch(Files::exists) || Instant.now().isAfter(deadline)) {
        return;
      }
      pace.pause();
    }
  }

  @Override
  public LimitsInForce limitsInForce() {
    return files.limits();
  }

  /**
   * Children that ignored SIGINT (a local-exec's background job) outlive the command. Inside
   * bubblewrap the sandbox's init waits for every last one of them (the exit status is
   * reported as soon as the command itself ends), so it is killed, and the namespace with it.
   * Without a namespace, setsid put them all in the command's session: kill that group.
   */
  private void killStragglers() throws InterruptedException {
    if (bubblewrap) {
      sandboxInit(); // verifies the init if it still can (and so remembers it)
      ProcStat init = verifiedInit;
      if (init == null) {
        return; // never seen running: the sandbox did not get as far as its init
      }
      // The init as last verified, known by PID and start time: once killed (here or by a stop
      // in another thread) it can no longer be verified, since its namespace link goes while
      // it exits, yet it still waits for the kernel to kill the namespace's other processes.
      // It is a zombie only once they are all gone: kill it once, and wait for that.
      if (!initRunning(init)) {
        return;
      }
      Signals.kill(init.pid());
      Instant deadline = Instant.now().plus(KILL_WAIT);
      Pace pace = new Pace(POLL_CAP);
      while (initRunning(init) && Instant.now().isBefore(deadline)) {
        pace.pause();
      }
    } else {
      launched().ifPresent(l -> {
        if (!ProcStat.sessionMembers(l[0]).isEmpty()) {
          Signals.killGroup(l[0]);
        }
      });
    }
  }

  /**
   * The sandbox's init (inner bwrap, the group leader), only while it verifiably is the one
   * this launch created: same PID and same PID namespace as bwrap reported. That holds after
   * the outer bwrap is gone and after a JVM restart, and fails for a reused PID.
   */
  private Optional<Long> sandboxInit() {
    Optional<Long> pid = files.bwrapChildPid();
    Optional<Long> namespace = files.bwrapPidNamespace();
    if (pid.isEmpty() || namespace.isEmpty()) {
      return Optional.empty();
    }
    Optional<ProcStat> stat = ProcStat.read(pid.get()).filter(ProcStat::running);
    boolean same = stat.isPresent() && ProcStat.pidNamespace(pid.get()).equals(namespace);
    if (same) {
      verifiedInit = stat.get();
    }
    return same ? pid : Optional.empty();
  }

  /** That process is still running (not a zombie, and not a later one with its PID). */
  private static boolean initRunning(ProcStat init) {
    return ProcStat.read(init.pid())
        .filter(s -> s.running() && s.startTime() == init.startTime()).isPresent();
  }

  private Optional<Long> waitForGroup() {
    try {
      return Optional.of(processGroupId());
    } catch (IllegalStateException e) {
      return Optional.empty();
    }
  }

  private Optional<long[]> launched() {
    if (launched == null) {
      files.launched().ifPresent(l -> launched = l);
    }
    return Optional.ofNullable(launched);
  }

  private boolean launchedRunning() {
    return launched()
        .filter(l -> l[1] != 0)
        .flatMap(l -> ProcStat.read(l[0]).filter(s -> s.startTime() == l[1] && s.running()))
        .isPresent();
  }

  private static void pause(Pace pace) {
    try {
      pace.pause();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the process group", e);
    }
  }

  @Override
  public String toString() {
    return "SandboxedProcess[" + files.dir() + "]";
  }
}
