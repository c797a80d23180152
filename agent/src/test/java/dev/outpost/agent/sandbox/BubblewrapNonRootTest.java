package dev.outpost.agent.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The non-root path: bwrap run as "nobody" (user namespaces instead of root's privileges),
 * which is also where RLIMIT_NPROC would start to bind; the limits must hold all the same. The
 * launch wrapper stays the agent's (it joins the cgroup, as an agent with a delegated cgroup
 * would); a shim drops to nobody just before bwrap.
 */
class BubblewrapNonRootTest {
  private static final String NOBODY = "nobody";
  @TempDir Path tmp;
  private SpecBuilder specs;
  private Path base;

  @AfterEach
  void cleanUp() throws IOException {
    if (specs != null) {
      ProcessLeaks.killAll(specs.marker);
      ProcessLeaks.assertNoneLeft(specs.marker);
    }
    SandboxEscapeTest.deleteTree(base);
  }

  @Test
  void asNobody_rlimitsAndPidsMaxHold() throws Exception {
    UserPrincipal nobody = tmp.getFileSystem().getUserPrincipalLookupService()
        .lookupPrincipalByName(NOBODY);
    base = Files.createDirectories(Path.of("/var/tmp/outpost-nonroot-" + UUID.randomUUID()));
    Path job = Files.createDirectories(base.resolve("job"));
    // The agent would own these itself; here root creates them for nobody.
    for (Path p : List.of(base, job, job.resolve(".outpost"), job.resolve(".outpost/run"),
        job.resolve(".outpost/run/1"))) {
      Files.createDirectories(p);
      Files.setOwner(p, nobody);
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    }
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwx--x--x"));
    Path shim = Files.writeString(tmp.resolve("bwrap-as-nobody"), "#!/bin/sh\n"
        + "exec /usr/bin/setpriv --reuid=" + NOBODY + " --regid=nogroup --clear-groups"
        + " /usr/bin/bwrap \"$@\"\n");
    shim.toFile().setExecutable(true);
    specs = new SpecBuilder(job);
    specs.limits = new SandboxLimits(64L, 1L << 20, 0L, 32L, null);
    SandboxSpec spec = specs.shell(String.join("\n",
        "id -un",
        "head -c 2097152 /dev/zero > big 2>/dev/null; wc -c < big",
        "( exec 2>/dev/null; trap 'kill $p' EXIT; for i in $(seq 200); do"
            + " sleep 30 >/dev/null 2>&1 & p=\"$p $!\"; done; echo all-200-started )",
        "echo still-here"));

    SandboxedProcess p = Sandbox.create("bubblewrap", shim).start(spec);

    assertThat(p.waitFor(Duration.ofSeconds(30))).contains(0);
    assertThat(Files.readAllLines(spec.stdoutFile()))
        .containsExactly(NOBODY, Long.toString(1L << 20), "still-here");
    assertThat(p.limitsInForce().inForce()).containsKeys("nofile", "fsize", "core", "pids");
    assertThat(p.stop(Duration.ofSeconds(1))).contains(0);
  }
}
