package dev.outpost.agent.sandbox;

import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Java can signal one PID only (and only TERM/KILL); groups and SIGINT go through kill(1). */
final class Signals {
  private static final Logger log = LoggerFactory.getLogger(Signals.class);
  private static final String KILL = "/bin/kill";
  private static final long KILL_COMMAND_SECONDS = 5;

  private Signals() {}

  static boolean interruptGroup(long pgid) {
    return send("-INT", "-" + pgid);
  }

  static boolean killGroup(long pgid) {
    return send("-KILL", "-" + pgid);
  }

  static boolean kill(long pid) {
    return send("-KILL", Long.toString(pid));
  }

  private static boolean send(String signal, String target) {
    try {
      Process p = new ProcessBuilder(KILL, signal, "--", target)
          .redirectOutput(Redirect.DISCARD)
          .redirectError(Redirect.DISCARD)
          .redirectInput(Redirect.from(new java.io.File("/dev/null")))
          .start();
      if (!p.waitFor(KILL_COMMAND_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return false;
      }
      return p.exitValue() == 0;
    } catch (IOException e) {
      log.warn("could not run {} {} -- {}: {}", KILL, signal, target, e.toString());
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
