package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.Payloads;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.stub.server.SourceArchive;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Payloads far beyond gRPC's 4 MiB message limit travel in chunks with digests: a 20 MiB
 * archive to the agent, a 20 MiB state to the control plane and back as the next job's prior
 * state.
 */
class LargePayloadIT {
  private static final int MIB = 1 << 20;

  @TempDir
  Path tmp;

  private StubProcess stub;
  private AgentProcess agent;

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
  void twentyMebibyteArchiveAndState_travelBothWays_withTheirDigests() throws Exception {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    agent = stub.startAgent(tmp, "agent-1", List.of());

    Path config = Files.createDirectories(tmp.resolve("big"));
    Random random = new Random(42);
    byte[] blob = new byte[15 * MIB / 2];
    random.nextBytes(blob);
    Files.write(config.resolve("blob.bin"), blob);
    byte[] filler = new byte[13 * MIB];
    random.nextBytes(filler);
    Files.write(config.resolve("filler.bin"), filler);
    // terraform_data keeps its input and its output: the state holds the 10 MiB of base64 twice.
    Files.writeString(config.resolve("main.tf"), """
        resource "terraform_data" "blob" {
          input = filebase64("${path.module}/blob.bin")
        }
        output "blob_sha256" {
          value = filesha256("${path.module}/blob.bin")
        }
        """);
    byte[] archive = SourceArchive.pack(config);
    assertThat(archive.length).isGreaterThan(20 * MIB);

    Job first = stub.awaitFinished(stub.submitApply(config, "acme", "big", Map.of(), Map.of())
        .getId(), Duration.ofSeconds(180));
    assertThat(first.getStatus()).as(first.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(first.getState().getSize()).isGreaterThan(20L * MIB);
    byte[] state = stub.payload(first.getId(), PayloadKind.PAYLOAD_KIND_STATE);
    assertThat(Payloads.sha256(state)).isEqualTo(first.getState().getSha256());
    assertThat(first.getOutputsList()).singleElement().satisfies(o -> assertThat(o.getValueJson())
        .isEqualTo("\"" + Payloads.sha256(blob) + "\""));

    // The stored state goes back down as the next job's prior state (the agent checks its
    // digest against the assignment); with nothing changed, the plan is empty.
    Job second = stub.awaitFinished(stub.submitApply(config, "acme", "big", Map.of(), Map.of())
        .getId(), Duration.ofSeconds(180));
    assertThat(second.getStatus()).as(second.getErrorMessage()).isEqualTo(JobStatus.JOB_STATUS_SUCCEEDED);
    assertThat(second.getChanges().getAdd()).isZero();
    assertThat(stub.payload(second.getId(), PayloadKind.PAYLOAD_KIND_PRIOR_STATE)).isEqualTo(state);
  }

}
