package dev.outpost.agent.job;

import dev.outpost.proto.v1.ChangeSummary;
import dev.outpost.proto.v1.ResourceChange;
import dev.outpost.proto.v1.TemplateDescription;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What a job's Terraform runs produced besides the state, collected for the final report. */
final class JobResult {
  ChangeSummary changes;
  final List<ResourceChange> resourceChanges = new ArrayList<>();
  TemplateDescription template;
  /** The saved plan (plan jobs), uploaded as PLAN_FILE. */
  Path planFile;
  /** {@code show -json} of the plan (plan jobs), uploaded as PLAN_JSON. Secret. */
  Path planJson;
}
