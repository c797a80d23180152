package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole agent as an unprivileged user ("nobody", through setpriv): bubblewrap then works
 * through user namespaces instead of root's privileges, and the process limit comes from a pids
 * cgroup delegated to that user the way systemd's Delegate= does it (a cgroup directory the
 * user owns, with the agent started inside it). The stub stays root; the agent's files are
 * copied to a directory nobody owns.
 */
class NonRootAgentIT {
  private static final Path PIDS = Path.of("/sys/fs/cgroup/pids");

  @TempDir
  Path tmp;

  private final String id = UUID.randomUUID().toString().substring(0, 8);
  private final Path base = Path.of("/var/tmp/outpost-nonroot-" + id);
  private final Path cgroup = PIDS.resolve("outpost-nonroot-" + id);
  private StubProcess stub;
  private AgentProcess agent;

  @AfterEach
  void cleanUp() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (stub != null) {
      stub.close();
    }
    if (Files.isDirectory(cgroup)) {
      try (Stream<Path> children = Files.list(cgroup)) {
        for (Path child : children.filter(Files::isDirectory).toList()) {
          Files.deleteIfExists(child);
        }
      }
      Files.deleteIfExists(cgroup);
    }
    EscapeSuiteIT.deleteTree(base);
    assertThat(Processes.withMarker("sleep 62")).as("processes left").isEmpty();
  }

  @Test
  void asNobody_aJobRunsConfined_withItsLimitsInForce() throws Exception {
    assertThat(PIDS.resolve("cgroup.procs")).as("this test delegates a cgroup v1 pids "
        + "hierarchy, as these hosts have").exists();
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    Files.createDirectories(base);
    TestPki.Client client = stub.pki.client("acme", "agent-nobody");
    Path ca = Files.copy(stub.pki.ca(), base.resolve("ca.pem"));
    Path cert = Files.copy(client.cert(), base.resolve("agent.crt"));
    Path key = Files.copy(client.key(), base.resolve("agent.key"));
    Path orgKey = Files.writeString(base.resolve("org.key"), stub.createKey("acme", Map.of()));
    Path jar = Files.copy(Jars.agent(), base.resolve("outpost-agent.jar"));
    Files.createDirectories(cgroup);
    UserPrincipalLookupService users = base.getFileSystem().getUserPrincipalLookupService();
    UserPrincipal nobody = users.lookupPrincipalByName("nobody");
    GroupPrincipal nogroup = users.lookupPrincipalByGroupName("nogroup");
    for (Path p : List.of(base, ca, cert, key, orgKey, jar, cgroup, cgroup.resolve("cgroup.procs"),
        cgroup.resolve("tasks"))) {
      PosixFileAttributeView view = Files.getFileAttributeView(p, PosixFileAttributeView.class);
      view.setOwner(nobody);
      view.setGroup(nogroup);
    }

    List<String> command = new ArrayList<>(List.of("/bin/sh", "-c",
        "echo $$ > " + cgroup.resolve("cgroup.procs") + " && exec \"$@\"", "sh",
        "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
        Jars.java(), "-jar", jar.toString()));
    command.addAll(new AgentProcess.Options(stub.agentTarget(), ca, cert, key, orgKey,
        base.resolve("state"), base.resolve("work"), List.of("--name", "agent-nobody",
            "--limit-processes", "128", "--limit-file-size", "1MiB")).arguments());
    agent = AgentProcess.start(command, tmp.resolve("agent.log"), Map.of("HOME",
        base.toString()));

    Path config = Files.createDirectories(tmp.resolve("config"));
    Files.writeString(config.resolve("main.tf"), """
        resource "terraform_data" "attempts" {
          provisioner "local-exec" {
            command = <<-EOT
              echo "uid-$(id -u)"
              head -c 2097152 /dev/zero > big; echo "size-$(wc -c < big)"
              ( for i in $(seq 200); do sleep 62 >/dev/null 2>&1 & done; echo "spawned-$((100 * 2))" ) || true
            EOT
          }
        }
        """);
    Job job = stub.submitApply(config, "acme", "ws", Map.of(), Map.of());
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(120));

    assertThat(done.getStatus()).as(done.getErrorMessage() + "\n" + agent.output())
        .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    String log = stub.logText(job.getId());
    assertThat(log).contains("uid-65534")
        .contains("limits in force: nofile=4096, fsize=1MiB, core=0, pids=128")
        .contains("size-1048576").doesNotContain("size-2097152")
        .doesNotContain("spawned-200");
    assertThat(Processes.withMarker("java").stream()
        .filter(p -> p.contains(jar.toString())).toList()).as("the agent runs as nobody")
        .isNotEmpty().allSatisfy(p -> assertThat(Files.getOwner(Path.of("/proc/" + p.split(":")[0])))
            .isEqualTo(nobody));
  }
}
