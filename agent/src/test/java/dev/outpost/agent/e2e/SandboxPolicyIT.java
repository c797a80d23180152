package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.ExitCodes;
import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the operator grants and caps: environment variables and files jobs receive (exactly
 * those), the network ceiling, and the start-up refusal of settings that would weaken the
 * sandbox. Granted files live under /var/tmp, which the sandbox does not show by itself, so a
 * file arriving proves the grant and a sibling staying away proves it was only that file.
 */
class SandboxPolicyIT {
  private static final JobType APPLY =
      JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build();
  private static final Duration JOB = Duration.ofSeconds(120);
  private static final Path TERRAFORM = findTerraform();

  @TempDir
  Path tmp;

  private final Path base = Path.of("/var/tmp/outpost-grants-" + UUID.randomUUID());
  private StubProcess stub;
  private AgentProcess agent;

  @BeforeEach
  void startStub() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    Files.createDirectories(base);
  }

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    stub.close();
    EscapeSuiteIT.deleteTree(base);
  }

  @Test
  void grantedVariableAndFileArrive_ungrantedOnesDoNot_andTheFileIsReadOnly() throws Exception {
    Path granted = Files.writeString(base.resolve("credentials"), "granted-" + UUID.randomUUID());
    Path ungranted = Files.writeString(base.resolve("other-credentials"),
        "ungranted-" + UUID.randomUUID());
    String token = "tok-" + UUID.randomUUID();
    String other = "tok-" + UUID.randomUUID();
    agent = stub.startAgent(tmp, "agent-1", List.of("--pass-env", "GRANTED_TOKEN",
        "--grant-file", granted.toString()),
        Map.of("GRANTED_TOKEN", token, "UNGRANTED_TOKEN", other));

    Job job = stub.submitApply(config("""
        resource "terraform_data" "grants" {
          provisioner "local-exec" {
            command = <<-EOT
              printf %%s "$GRANTED_TOKEN" | sha256sum
              printf %%s "$UNGRANTED_TOKEN" | sha256sum
              sha256sum %1$s
              sha256sum %2$s || true
              echo changed >> %1$s || true
              env | sort | sed 's/^/env: /'
            EOT
          }
        }
        """.formatted(granted, ungranted)), "acme", "ws", Map.of(), Map.of());
    Job done = stub.awaitFinished(job.getId(), JOB);

    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    String log = log(job.getId());
    assertThat(log).as("granted variable").contains(sha256(token))
        .as("granted file").contains(sha256(Files.readString(granted)))
        .as("ungranted variable").doesNotContain(sha256(other))
        .as("ungranted file").doesNotContain(sha256(Files.readString(ungranted)))
        .contains("granted files 1, granted variables 1");
    assertThat(Files.readString(granted)).as("granted file unchanged").doesNotContain("changed");
    assertThat(log).as("a granted value is a secret in the log").doesNotContain(token);
    assertThat(log).as("the job's whole environment was printed").contains("env: HOME=",
        "env: GRANTED_TOKEN=").as("nothing else of the agent's environment is inside")
        .doesNotContain("agent-env-canary", "env: OUTPOST_", "env: UNGRANTED_TOKEN");
  }

  @Test
  void networkCeilingNone_overridesAJobThatAsksForFullNetwork() throws Exception {
    agent = stub.startAgent(tmp, "agent-1", List.of("--network-ceiling", "none"));
    try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Job job = stub.submit(config("""
          resource "terraform_data" "net" {
            provisioner "local-exec" {
              command = "/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' && echo connected-$((6 * 7)); true"
            }
          }
          """.formatted(listener.getLocalPort())), "acme", "ws", APPLY, Map.of(), Map.of(),
          "full");
      Job done = stub.awaitFinished(job.getId(), JOB);

      assertThat(done.getStatus()).as(done.getErrorMessage())
          .isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
      assertThat(log(job.getId())).doesNotContain("connected-42")
          .contains("network none (the job asked for full; the agent allows none)");
    }
  }

  @Test
  void settingsThatWouldWeakenTheSandbox_failAtStart_namingTheSetting() throws Exception {
    Path orgKey = Files.writeString(tmp.resolve("org.key"), stub.createKey("acme", Map.of()));
    TestPki.Client client = stub.pki.client("acme", "agent-x");
    List<List<String>> cases = List.of(
        List.of("--grant-file", orgKey.toString()),
        List.of("--grant-file", tmp.resolve("state").toString()),
        List.of("--limit-processes", "3"),
        List.of("--limit-file-size", "12XB"),
        List.of("--network-ceiling", "some"),
        List.of("--hide-path", tmp.resolve("shared/private").toString(),
            "--grant-file", tmp.resolve("shared").toString()));
    List<String> expected = List.of("would show jobs the agent's own", "would show jobs the "
        + "agent's own", "--limit-processes 3 is invalid", "'12XB' is not a size",
        "--network-ceiling 'some' is invalid", "would show jobs the hidden path");
    Files.createDirectories(tmp.resolve("shared/private"));
    Files.createDirectories(tmp.resolve("state"));
    for (int i = 0; i < cases.size(); i++) {
      List<String> extra = new ArrayList<>(cases.get(i));
      AgentProcess bad = AgentProcess.start(new AgentProcess.Options(stub.agentTarget(),
          stub.pki.ca(), client.cert(), client.key(), orgKey, tmp.resolve("state"),
          tmp.resolve("work"), extra), tmp.resolve("bad-" + i + ".log"));
      assertThat(bad.awaitExit(Duration.ofSeconds(60))).as("%s", extra)
          .contains(ExitCodes.CONFIG);
      assertThat(bad.output()).as("%s", extra).contains(expected.get(i));
    }
  }

  @Test
  void withoutAWorkingSandbox_theAgentRefusesToStart_insteadOfRunningJobsUnconfined()
      throws Exception {
    Path orgKey = Files.writeString(tmp.resolve("org.key"), stub.createKey("acme", Map.of()));
    TestPki.Client client = stub.pki.client("acme", "agent-x");
    // A host without bubblewrap: a PATH that has no bwrap on it (Terraform is given by path).
    Path emptyBin = Files.createDirectories(tmp.resolve("empty-bin"));
    AgentProcess agent = AgentProcess.start(new AgentProcess.Options(stub.agentTarget(),
        stub.pki.ca(), client.cert(), client.key(), orgKey, tmp.resolve("state"),
        tmp.resolve("work"), List.of("--terraform", TERRAFORM.toString())),
        tmp.resolve("nobwrap.log"), Map.of("PATH", emptyBin.toString()));

    assertThat(agent.awaitExit(Duration.ofSeconds(60))).contains(ExitCodes.SANDBOX_UNAVAILABLE);
    assertThat(agent.output()).contains("bwrap was not found on PATH",
        "jobs are never run unconfined unless --sandbox=none is given");
    assertThat(stub.admin().blocking(10).listAgents(
        dev.outpost.proto.v1.ListAgentsRequest.newBuilder().setOrg("acme").build()).getAgentsList())
        .as("it never connected").isEmpty();
  }

  private Path config(String hcl) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("config-" + UUID.randomUUID()));
    Files.writeString(dir.resolve("main.tf"), hcl);
    return dir;
  }

  private String log(String jobId) {
    return stub.logText(jobId);
  }

  private static Path findTerraform() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, "terraform");
      if (Files.isExecutable(candidate)) {
        return candidate.toAbsolutePath();
      }
    }
    throw new IllegalStateException("terraform is not on PATH");
  }

  private static String sha256(String s) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
        .digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }
}
