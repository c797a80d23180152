package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.agent.sandbox.ProcessLeaks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real terraform binary under real bubblewrap; only built-in resources (no registry here). */
class TerraformIntegrationTest {
  private static final Duration RUN = Duration.ofSeconds(60);
  private static final String CONFIG = """
      variable "greeting" { type = string }
      variable "password" {
        type      = string
        sensitive = true
      }
      resource "terraform_data" "hello" {
        input = var.greeting
        provisioner "local-exec" {
          command = "echo line-one; echo line-two"
        }
      }
      module "child" { source = "./child" }
      output "greeting" { value = terraform_data.hello.output }
      output "password" {
        value     = var.password
        sensitive = true
      }
      """;
  private static final String CHILD = """
      resource "terraform_data" "inner" { input = 42 }
      """;

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
  void initPlanApply_succeed_andStateIsRead() throws Exception {
    fx = new TerraformFixture(tmp).file("main.tf", CONFIG).file("child/main.tf", CHILD)
        .file("outpost.auto.tfvars.json", "{\"greeting\":\"hi\",\"password\":\"hunter2\"}");
    Terraform tf = fx.terraform();

    TerraformRun init = tf.init(InitOptions.defaults());
    assertThat(init.waitFor(RUN)).contains(0);
    assertThat(init.stdoutFile().getFileName().toString()).isEqualTo("01-init.stdout");
    assertThat(init.messages()).isNotEmpty().allMatch(m -> !m.type().isEmpty());

    Path planFile = fx.jobDir.resolve("plan.tfplan");
    TerraformRun plan = tf.plan(PlanOptions.to(planFile));
    int planExit = plan.waitFor(RUN).orElseThrow();
    assertThat(planExit).isEqualTo(2);
    assertThat(plan.succeeded(planExit)).isTrue();
    assertThat(TerraformRun.planHasChanges(planExit)).isTrue();
    assertThat(plan.messages()).anyMatch(m -> m.type().equals("change_summary"));
    assertThat(planFile).isNotEmptyFile();

    TerraformRun apply = tf.apply(ApplyOptions.ofPlan(planFile));
    assertThat(apply.waitFor(RUN)).contains(0);
    assertThat(apply.stdoutFile().getFileName().toString()).isEqualTo("03-apply.stdout");
    assertThat(Files.readAllLines(apply.stdoutFile())).allMatch(l -> l.startsWith("{"));
    assertThat(apply.messages()).extracting(TerraformMessage::message)
        .anyMatch(m -> m.contains("line-one")).anyMatch(m -> m.contains("line-two"));
    assertThat(apply.messages()).noneMatch(m -> m.json().contains("hunter2"));

    TerraformState state = StateReader.readStateFile(fx.source.resolve("terraform.tfstate"));
    assertThat(state.outputs()).containsExactlyInAnyOrder(
        new TerraformOutput("greeting", "\"hi\"", false, "\"string\""),
        new TerraformOutput("password", "\"hunter2\"", true, "\"string\""));
    assertThat(state.resources()).extracting(TerraformResource::address)
        .containsExactly("terraform_data.hello", "module.child.terraform_data.inner");
    assertThat(state.resources()).allMatch(r -> r.provider().equals("terraform.io/builtin/terraform")
        && r.mode().equals("managed") && r.type().equals("terraform_data"));
    assertThat(StateReader.identity(fx.source.resolve("terraform.tfstate"))).hasValueSatisfying(id -> {
      assertThat(id.serial()).isPositive();
      assertThat(id.lineage()).isNotBlank();
    });
    // The agent's environment says TF_CLI_CONFIG_FILE=<missing file>; ours replaced it.
    assertThat(init.stderrTail(10_000) + apply.stderrTail(10_000)).doesNotContain("terraformrc");
  }

  @Test
  void apply_failingProvisioner_exitsNonZeroWithErrorDiagnostic() throws Exception {
    fx = new TerraformFixture(tmp).file("main.tf", """
        resource "terraform_data" "broken" {
          provisioner "local-exec" { command = "echo about-to-fail; exit 3" }
        }
        """);
    Terraform tf = fx.terraform();
    assertThat(tf.init(InitOptions.defaults()).waitFor(RUN)).contains(0);

    TerraformRun apply = tf.apply(new ApplyOptions(null));
    int exit = apply.waitFor(RUN).orElseThrow();

    assertThat(exit).isEqualTo(1);
    assertThat(apply.succeeded(exit)).isFalse();
    assertThat(apply.diagnostics()).anyMatch(d -> d.level().equals("error")
        && d.json().contains("exit status 3"));
  }

  @Test
  void cancel_duringApply_stateIsWrittenAndNoProcessIsLeft() throws Exception {
    fx = new TerraformFixture(tmp).file("main.tf", """
        resource "terraform_data" "slow" {
          provisioner "local-exec" { command = "echo started; sleep 1000 & sleep 1000" }
        }
        """);
    Terraform tf = fx.terraform();
    assertThat(tf.init(InitOptions.defaults()).waitFor(RUN)).contains(0);
    TerraformRun apply = tf.apply(new ApplyOptions(null));
    // Both sleeps run: the background one ignores SIGINT (POSIX rule for async commands).
    await().atMost(RUN).until(() -> ProcessLeaks.matching(fx.marker).stream()
        .filter(p -> p.split(" ", 2)[1].startsWith("sleep 1000")).count() == 2);

    apply.stop(Duration.ofSeconds(1));

    assertThat(apply.exitCode()).isPresent();
    assertThat(apply.process().isAlive()).isFalse();
    assertThat(fx.source.resolve("terraform.tfstate")).isNotEmptyFile();
    assertThat(apply.messages()).extracting(TerraformMessage::message).anyMatch(m -> m.contains("started"));
    ProcessLeaks.assertNoneLeft(fx.marker);
  }

  @Test
  void arguments_alwaysNonInteractiveAndJson() throws Exception {
    // A stand-in binary that prints its argv shows exactly what each method passes.
    fx = new TerraformFixture(tmp);
    Path fake = Files.createDirectories(tmp.resolve("bin")).resolve("terraform");
    Files.writeString(fake, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n");
    fake.toFile().setExecutable(true);
    Terraform tf = new Terraform(fake, fx.source, fx.jobDir,
        dev.outpost.agent.sandbox.Sandbox.create("bubblewrap", null),
        TerraformEnvironment.forJob(fx.jobDir).build(), false);
    Path plan = fx.jobDir.resolve("p");

    assertThat(argv(tf.init(InitOptions.defaults()))).containsExactly("init", "-input=false", "-no-color", "-json");
    assertThat(argv(tf.plan(new PlanOptions(plan, true, true)))).containsExactly("plan", "-input=false",
        "-no-color", "-json", "-out=" + plan, "-detailed-exitcode", "-destroy");
    assertThat(argv(tf.apply(ApplyOptions.ofPlan(plan)))).containsExactly("apply", "-input=false",
        "-no-color", "-json", "-auto-approve", plan.toString());
    assertThat(argv(tf.showJson(plan, tmp.resolve("show.json")))).containsExactly("show", "-json",
        "-no-color", plan.toString());
    assertThat(tf.binaryDirs()).containsExactly(fake.getParent()); // bound read-only, it ran
  }

  private static List<String> argv(TerraformRun run) throws Exception {
    assertThat(run.waitFor(RUN)).contains(0);
    return Files.readAllLines(run.stdoutFile());
  }
}
