package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.proto.v1.GetWorkspaceRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.Output;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.Workspace;
import dev.outpost.proto.v1.WorkspaceRef;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The walking skeleton end to end: the stub and the agent as separate processes from their jars,
 * real mTLS with a PKI made by the test, the real terraform binary under bubblewrap.
 */
class ApplyEndToEndIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SECRET = "s3cr3t-token-e2e-91f2";

  @TempDir
  Path tmp;

  private StubProcess stub;
  private AgentProcess agent;
  private Path workDir;

  @BeforeEach
  void startStubAndAgent() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    workDir = tmp.resolve("work");
    agent = stub.startAgent(tmp, "agent-1", List.of());
  }

  @AfterEach
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (stub != null) {
      stub.close();
    }
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  @Test
  void apply_streamsEveryLineOnceInOrder_andStoresOutputsAndState() throws Exception {
    int lines = 40;
    Job job = stub.submitApply(Jars.repoRoot().resolve("examples/hello"), "acme", "hello",
        Map.of("gate", "release.gate", "lines", Integer.toString(lines)),
        Map.of("api_token", SECRET));

    // Streaming, proven: the second resource waits for the gate file, which is created only
    // once the first resource's line is stored on the stub. Terraform is still running then.
    await("first local-exec line stored on the stub").atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> provisionerLines(stub.logs(job.getId())).contains("line 1: Hello from Outpost"));
    assertThat(stub.job(job.getId()).getStatus()).isEqualTo(JobStatus.JOB_STATUS_RUNNING);
    Files.writeString(workDir.resolve(job.getId()).resolve("source/release.gate"), "go");

    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(90));
    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);

    List<LogEntry> log = stub.logs(job.getId());
    List<String> expected = new ArrayList<>();
    expected.add("line 1: Hello from Outpost");
    for (int i = 2; i <= lines; i++) {
      expected.add("line " + i);
    }
    assertThat(provisionerLines(log)).containsExactlyElementsOf(expected);
    for (int i = 0; i < log.size(); i++) {
      assertThat(log.get(i).getSeq()).isEqualTo(i + 1L);
    }
    assertThat(log).noneMatch(e -> e.getRaw().contains(SECRET) || e.getMessage().contains(SECRET));
    assertThat(log).noneMatch(e -> e.getRaw().contains("agent-env-canary"));

    Map<String, Output> outputs = done.getOutputsList().stream()
        .collect(Collectors.toMap(Output::getName, o -> o));
    assertThat(outputs.get("greeting").getValueJson()).isEqualTo("\"Hello from Outpost\"");
    assertThat(outputs.get("greeting").getSensitive()).isFalse();
    assertThat(outputs.get("lines_printed").getValueJson()).isEqualTo(Integer.toString(lines));
    assertThat(outputs.get("api_token").getSensitive()).isTrue();
    assertThat(done.getResourcesList()).extracting(r -> r.getAddress())
        .containsExactlyInAnyOrder("terraform_data.first", "terraform_data.second");

    JsonNode state = JSON.readTree(stub.payload(job.getId(), PayloadKind.PAYLOAD_KIND_STATE));
    assertThat(state.path("resources")).hasSize(2);
    assertThat(state.path("outputs").path("greeting").path("value").asText())
        .isEqualTo("Hello from Outpost");
    Workspace ws = stub.admin().blocking(10).getWorkspace(GetWorkspaceRequest.newBuilder()
        .setRef(WorkspaceRef.newBuilder().setOrg("acme").setName("hello")).build());
    assertThat(ws.getState().getSha256()).isEqualTo(done.getState().getSha256());
    assertThat(ws.getStateSerial()).isEqualTo(state.path("serial").asLong());

    await("job directory removed after acknowledgement").atMost(Duration.ofSeconds(10))
        .until(() -> !Files.exists(workDir.resolve(job.getId())));
  }

  @Test
  void failingApply_completesAsFailed_withTerraformsErrorAndTheStateItLeft() throws Exception {
    Path config = Files.createDirectories(tmp.resolve("failing"));
    Files.writeString(config.resolve("main.tf"), """
        resource "terraform_data" "ok" {
          input = "created"
        }
        resource "terraform_data" "broken" {
          depends_on = [terraform_data.ok]
          provisioner "local-exec" {
            command = "echo about to fail; exit 3"
          }
        }
        """);
    Job job = stub.submitApply(config, "acme", "failing", Map.of(), Map.of());
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(90));

    assertThat(done.getStatus()).isEqualTo(JobStatus.JOB_STATUS_FAILED);
    assertThat(done.getErrorMessage()).contains("terraform apply exited with 1")
        .contains("local-exec provisioner error");
    JsonNode state = JSON.readTree(stub.payload(job.getId(), PayloadKind.PAYLOAD_KIND_STATE));
    List<String> addresses = new ArrayList<>();
    state.path("resources").forEach(r -> addresses.add(r.path("type").asText() + "."
        + r.path("name").asText()));
    assertThat(addresses).contains("terraform_data.ok");
    assertThat(provisionerLines(stub.logs(job.getId()))).containsExactly("about to fail");
  }

  /**
   * The agent reads and sends the job's output in Linux's idle scheduling class (--log-priority
   * idle, the default), but Terraform, started by the job's own thread, keeps the normal class:
   * a process inherits the class of the thread that starts it, and an unprivileged one cannot
   * leave the idle class. So do the threads of the main channel to the control plane.
   */
  @Test
  void terraformRunsInTheNormalClass_whileTheLogReadersAndSenderRunInTheIdleClass()
      throws Exception {
    Path config = Files.createDirectories(tmp.resolve("policy"));
    // Field 41 of /proc/<pid>/stat is the scheduling policy: 0 normal, 5 idle. The command
    // then waits for the gate (at most 60 s), so that the agent's threads are looked at while
    // the job's reader and sender exist.
    Files.writeString(config.resolve("main.tf"), """
        resource "terraform_data" "p" {
          provisioner "local-exec" {
            command = <<-EOT
              echo policy $(cut -d ' ' -f 41 /proc/self/stat)
              for i in $(seq 600); do [ -e release.gate ] && break; sleep 0.1; done
            EOT
          }
        }
        """);
    Job job = stub.submitApply(config, "acme", "policy", Map.of(), Map.of());
    // Stored: the sender has made its calls, from the idle class.
    await("the command's line stored on the stub").atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> provisionerLines(stub.logs(job.getId())).contains("policy 0"));
    Map<String, List<String>> running = threadPolicies(agent.pid());
    Files.writeString(workDir.resolve(job.getId()).resolve("source/release.gate"), "go");
    Job done = stub.awaitFinished(job.getId(), Duration.ofSeconds(90));

    assertThat(done.getStatus()).as(done.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(provisionerLines(stub.logs(job.getId()))).containsExactly("policy 0");
    // Thread names are cut to 15 characters: "logs-job-<id>" is the job's sender.
    String sender = ("logs-" + job.getId()).substring(0, 15);
    assertThat(running.get(sender)).as("the job's log sender").containsExactly("5");
    assertThat(running.get("log-reader")).as("log readers").isNotEmpty().containsOnly("5");
    assertThat(running.get("job-worker")).as("job threads").isNotEmpty().containsOnly("0");
    // The log channel's event loop, which encrypted and wrote what the sender handed it.
    assertThat(running.get("log-netty-1")).as("the log channel's event loop").containsExactly("5");
    // The main channel's threads (session, heartbeats, the job's other calls) stay normal, and
    // no other thread is idle.
    List<String> main = running.entrySet().stream().filter(e -> e.getKey().startsWith("grpc-"))
        .flatMap(e -> e.getValue().stream()).toList();
    assertThat(main).as("the main channel's threads").isNotEmpty().containsOnly("0");
    Map<String, List<String>> idle = new java.util.TreeMap<>(running);
    idle.values().removeIf(policies -> !policies.contains("5"));
    assertThat(idle.keySet()).as("idle threads")
        .allMatch(name -> name.equals(sender) || name.matches("log-(reader|netty-\\d+|grpc-\\d+)"));
    // The reader that followed the job is kept for the next one.
    assertThat(threadPolicies(agent.pid()).get("log-reader")).containsOnly("5");
    assertThat(agent.output()).contains("log readers and senders run in the idle scheduling class");
  }

  /** The scheduling policy of each thread of a process, by thread name. */
  private static Map<String, List<String>> threadPolicies(long pid) throws IOException {
    Map<String, List<String>> byName = new java.util.HashMap<>();
    try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path task : (Iterable<Path>) tasks::iterator) {
        String stat = Files.readString(task.resolve("stat"));
        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        byName.computeIfAbsent(name, n -> new ArrayList<>()).add(fields[41 - 3]);
      }
    }
    return byName;
  }


  /** The lines local-exec printed, from Terraform's machine-readable provision_progress events. */
  static List<String> provisionerLines(List<LogEntry> log) throws IOException {
    List<String> lines = new ArrayList<>();
    for (LogEntry e : log) {
      if (e.getType().equals("provision_progress")) {
        String output = JSON.readTree(e.getRaw()).path("hook").path("output").asText();
        // Terraform announces each command it runs; that line is not the command's output.
        if (!output.startsWith("Executing: [")) {
          lines.add(output);
        }
      }
    }
    return lines;
  }
}
