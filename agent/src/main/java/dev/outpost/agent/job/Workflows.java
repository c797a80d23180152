package dev.outpost.agent.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.agent.terraform.ApplyOptions;
import dev.outpost.agent.terraform.InitOptions;
import dev.outpost.agent.terraform.PlanOptions;
import dev.outpost.agent.terraform.Terraform;
import dev.outpost.agent.terraform.TerraformMessage;
import dev.outpost.agent.terraform.TerraformRun;
import dev.outpost.agent.workspace.JobDirectory;
import dev.outpost.proto.v1.ChangeSummary;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.Stage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The Terraform commands each job type runs, and what each leaves in the result. */
final class Workflows {
  static final String PLAN_FILE = "outpost.tfplan";
  static final String PLAN_JSON = "outpost.tfplan.json";
  /** Written only for a template import whose required variables have no value. */
  static final String PLACEHOLDERS = "zz_outpost_placeholders_override.tf";
  private static final Pattern MISSING = Pattern.compile("input variable \"([^\"]+)\" is not set");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Terraform tf;
  private final JobDirectory dir;
  private final StageRunner stages;
  private final JobResult result;
  private final Path varFile;

  Workflows(Terraform tf, JobDirectory dir, StageRunner stages, JobResult result, Path varFile) {
    this.varFile = varFile;
    this.tf = tf;
    this.dir = dir;
    this.stages = stages;
    this.result = result;
  }

  /** Runs the job; {@code savedPlan} is the downloaded plan for an apply of a saved plan. */
  JobOutcome run(JobType type, Path savedPlan) throws Exception {
    JobOutcome failed = stages.run(Stage.STAGE_INIT, () -> tf.init(InitOptions.defaults()));
    if (failed != null) {
      return failed;
    }
    return switch (type.getTypeCase()) {
      case APPLY -> savedPlan != null ? applySaved(savedPlan) : apply(false);
      case DESTROY -> apply(true);
      case PLAN -> plan();
      case TEMPLATE_IMPORT -> templateImport();
      default -> new JobOutcome.Failed("the job has no type this agent knows ("
          + type.getTypeCase() + "); the agent may be older than the control plane", -1);
    };
  }

  private JobOutcome apply(boolean destroy) throws Exception {
    Path plan = dir.controlDir().resolve(PLAN_FILE);
    PlanOptions options = new PlanOptions(plan, destroy, true).withVarFile(varFile);
    JobOutcome failed = stages.run(Stage.STAGE_PLAN, () -> tf.plan(options));
    if (failed != null) {
      return failed;
    }
    Stage stage = destroy ? Stage.STAGE_DESTROY : Stage.STAGE_APPLY;
    TerraformRun planRun = stages.last();
    failed = stages.run(stage, () -> tf.apply(ApplyOptions.ofPlan(plan)));
    if (stages.last() != planRun) {
      // Only what an apply reports was applied; a cancel before it started changed nothing.
      result.changes = changeSummary(stages.last());
    }
    return failed == null ? new JobOutcome.Succeeded() : failed;
  }

  private JobOutcome applySaved(Path savedPlan) throws Exception {
    JobOutcome failed = stages.run(Stage.STAGE_APPLY, () -> tf.apply(ApplyOptions.ofPlan(savedPlan)));
    result.changes = changeSummary(stages.last());
    return failed == null ? new JobOutcome.Succeeded() : failed;
  }

  private JobOutcome plan() throws Exception {
    Path plan = dir.controlDir().resolve(PLAN_FILE);
    JobOutcome failed = stages.run(Stage.STAGE_PLAN,
        () -> tf.plan(PlanOptions.to(plan).withVarFile(varFile)));
    if (failed != null) {
      return failed;
    }
    Path json = dir.controlDir().resolve(PLAN_JSON);
    failed = stages.runQuiet(Stage.STAGE_SHOW, () -> tf.showJson(plan, json));
    if (failed != null) {
      return failed;
    }
    PlanJson parsed = PlanJson.read(json);
    result.changes = parsed.summary();
    result.resourceChanges.addAll(parsed.resourceChanges());
    result.planFile = plan;
    result.planJson = json;
    return new JobOutcome.Succeeded();
  }

  /**
   * Describes the template. When required variables have no value, a plan is still made, with
   * those variables given a null default in an override file and with nothing targeted, so that
   * Terraform describes the configuration without evaluating resources: the declarations come
   * back and the preview is marked unavailable.
   */
  private JobOutcome templateImport() throws Exception {
    Path plan = dir.controlDir().resolve(PLAN_FILE);
    JobOutcome failed = stages.run(Stage.STAGE_PLAN,
        () -> tf.plan(PlanOptions.to(plan).withVarFile(varFile)));
    Set<String> missing = new LinkedHashSet<>();
    if (failed instanceof JobOutcome.Failed) {
      missing.addAll(missingVariables(stages.last()));
      if (missing.isEmpty()) {
        return failed;
      }
      Path override = dir.sourceDir().resolve(PLACEHOLDERS);
      StringBuilder hcl = new StringBuilder("# Written by Outpost for a template import.\n");
      missing.forEach(v -> hcl.append("variable \"").append(v).append("\" {\n  default = null\n}\n"));
      Files.writeString(override, hcl);
      try {
        failed = stages.run(Stage.STAGE_PLAN, () -> tf.plan(new PlanOptions(plan, false, true,
            List.of("terraform_data.outpost_describe_only")).withVarFile(varFile)));
      } finally {
        Files.deleteIfExists(override);
      }
    }
    if (failed != null) {
      return failed;
    }
    Path json = dir.controlDir().resolve(PLAN_JSON);
    failed = stages.runQuiet(Stage.STAGE_SHOW, () -> tf.showJson(plan, json));
    if (failed != null) {
      return failed;
    }
    try {
      result.template = PlanJson.read(json).template(missing,
          VariableTypes.read(dir.sourceDir()));
    } finally {
      Files.deleteIfExists(json);
      Files.deleteIfExists(plan);
    }
    return new JobOutcome.Succeeded();
  }

  static Set<String> missingVariables(TerraformRun run) throws IOException {
    Set<String> names = new LinkedHashSet<>();
    for (TerraformMessage m : run.diagnostics()) {
      JsonNode d = JSON.readTree(m.json()).path("diagnostic");
      if (d.path("summary").asText().startsWith("No value for required variable")) {
        Matcher matcher = MISSING.matcher(d.path("detail").asText());
        if (matcher.find()) {
          names.add(matcher.group(1));
        }
      }
    }
    return names;
  }

  /**
   * The last "change_summary" message of a plan or apply (Terraform writes it at the end, so
   * it is looked for from the end of the output), or null.
   */
  static ChangeSummary changeSummary(TerraformRun run) throws IOException {
    Optional<TerraformMessage> last = run.lastMessage("change_summary");
    if (last.isEmpty()) {
      return null;
    }
    JsonNode c = JSON.readTree(last.get().json()).path("changes");
    return ChangeSummary.newBuilder().setAdd(c.path("add").asInt())
        .setChange(c.path("change").asInt()).setDestroy(c.path("remove").asInt())
        .setImport(c.path("import").asInt()).build();
  }
}
