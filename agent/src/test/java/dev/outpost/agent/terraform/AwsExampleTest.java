package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.sandbox.ProcessLeaks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * examples/aws-vm with the real AWS provider from the machine's filesystem mirror, through the
 * provider cache, under real bubblewrap without network. Skipped visibly where no mirror exists.
 */
class AwsExampleTest {
  static final Map<String, String> DUMMY_CREDENTIALS = Map.of(
      "AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE",
      "AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "AWS_EC2_METADATA_DISABLED", "true");
  private static final Duration RUN = Duration.ofSeconds(100);
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;
  private TerraformFixture fx;

  @AfterEach
  void noneLeft() {
    if (fx != null) {
      ProcessLeaks.killAll(fx.marker);
      ProcessLeaks.assertNoneLeft(fx.marker);
    }
  }

  @Test
  @Timeout(240)
  void awsVm_initAndPlanFromMirrorAndCache_applyFailsWithTheProviderDiagnostic_noProviderLeft()
      throws Exception {
    Path mirror = ProviderMirrors.awsOrSkip();
    ProviderCache cache = new ProviderCache(tmp.resolve("cache"), 1L << 30, Duration.ofDays(30),
        Clock.systemUTC());
    fx = new TerraformFixture(tmp).example("aws-vm");
    Terraform tf = fx.terraform(cache, List.of(mirror), DUMMY_CREDENTIALS);

    long t0 = System.nanoTime();
    TerraformRun init = tf.init(InitOptions.defaults());
    assertThat(init.waitFor(RUN)).as(init.stderrTail(2000)).contains(0);
    long t1 = System.nanoTime();
    assertThat(cache.lockRecord()).extracting(ProviderCache.LockEvent::acquired)
        .containsExactly(true, false); // released once the end was seen
    Path installed = fx.source.resolve(
        ".terraform/providers/" + ProviderMirrors.AWS + "/linux_amd64");
    assertThat(Files.readSymbolicLink(installed)).startsWithRaw(cache.dir());

    Path planFile = fx.jobDir.resolve("plan.tfplan");
    TerraformRun plan = tf.plan(PlanOptions.to(planFile));
    int planExit = plan.waitFor(RUN).orElseThrow();
    long t2 = System.nanoTime();
    assertThat(plan.succeeded(planExit)).as(plan.stderrTail(2000)).isTrue();
    assertThat(plannedAddresses(plan)).containsExactlyInAnyOrder(
        "aws_vpc.main", "aws_subnet.main", "aws_security_group.ssh", "aws_instance.vm");
    assertThat(plan.messages()).filteredOn(m -> m.type().equals("change_summary"))
        .extracting(TerraformMessage::message).containsExactly(
            "Plan: 4 to add, 0 to change, 0 to destroy.");
    plan.stop(Duration.ZERO);

    TerraformRun apply = tf.apply(ApplyOptions.ofPlan(planFile));
    int applyExit = apply.waitFor(RUN).orElseThrow();
    long t3 = System.nanoTime();
    apply.stop(Duration.ZERO); // as the job runner does after every run
    assertThat(apply.succeeded(applyExit)).isFalse();
    assertThat(apply.diagnostics()).filteredOn(m -> m.level().equals("error"))
        .extracting(TerraformMessage::json)
        .anyMatch(j -> j.contains("127.0.0.1:1") && j.contains("connection refused"));
    // Terraform stops its providers before it exits: none may be left even for a moment.
    assertThat(ProcessLeaks.matching(fx.marker)).noneMatch(p -> p.contains("terraform-provider-aws"));
    ProcessLeaks.assertNoneLeft(fx.marker);
    System.out.printf("aws-vm timings: init %d ms, plan %d ms, apply (failing) %d ms%n",
        (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000, (t3 - t2) / 1_000_000);
  }

  private static List<String> plannedAddresses(TerraformRun plan) throws Exception {
    return plan.messages().stream().filter(m -> m.type().equals("planned_change"))
        .map(m -> {
          try {
            JsonNode n = JSON.readTree(m.json());
            return n.path("change").path("resource").path("addr").asText();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }).toList();
  }
}
