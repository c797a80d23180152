package dev.outpost.stub.cli;

import dev.outpost.proto.Times;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.Output;
import java.io.PrintStream;
import java.util.Locale;

/** Renders a job for people; secret values stay "(sensitive)" unless asked for. */
final class JobView {
  private JobView() {}

  static String status(JobStatus s) {
    return s.name().replace("JOB_STATUS_", "").toLowerCase(Locale.ROOT);
  }

  static boolean terminal(JobStatus s) {
    return switch (s) {
      case JOB_STATUS_SUCCEEDED, JOB_STATUS_FAILED, JOB_STATUS_CANCELLED,
          JOB_STATUS_INTERRUPTED -> true;
      default -> false;
    };
  }

  static void print(Job job, boolean showSensitive, PrintStream out) {
    out.println("job:        " + job.getId());
    out.println("workspace:  " + job.getWorkspace().getOrg() + "/" + job.getWorkspace().getName());
    out.println("type:       " + job.getType().getTypeCase().name().toLowerCase(Locale.ROOT));
    out.println("status:     " + status(job.getStatus()) + (job.getLate() ? " (late)" : ""));
    if (!job.getPendingReason().isEmpty()) {
      out.println("pending:    " + job.getPendingReason());
    }
    if (!job.getAgentId().isEmpty()) {
      out.println("agent:      " + job.getAgentId());
    }
    if (job.hasSubmittedAt()) {
      out.println("submitted:  " + Times.instant(job.getSubmittedAt()));
    }
    if (job.hasFinishedAt()) {
      out.println("finished:   " + Times.instant(job.getFinishedAt()));
    }
    if (!job.getErrorMessage().isEmpty()) {
      out.println("error:      " + job.getErrorMessage().strip().replace("\n", "\n            "));
    }
    out.println("log lines:  " + job.getLogEntries());
    if (job.getState().getSize() > 0) {
      out.println("state:      " + job.getState().getSize() + " bytes, serial "
          + job.getStateSerial() + (job.getStateKeptAside() ? " (kept aside, not adopted)" : "")
          + " (contents are secret; not shown)");
    }
    if (job.hasChanges()) {
      out.println("changes:    " + job.getChanges().getAdd() + " to add, "
          + job.getChanges().getChange() + " to change, " + job.getChanges().getDestroy()
          + " to destroy");
    }
    job.getResourceChangesList().forEach(rc -> out.println("  " + String.join("/",
        rc.getActionsList()) + " " + rc.getAddress()));
    if (job.getPlanFile().getSize() > 0) {
      out.println("plan file:  " + job.getPlanFile().getSize() + " bytes (apply it with "
          + "job submit --action apply --plan " + job.getId() + ")");
    }
    if (job.hasTemplate()) {
      var t = job.getTemplate();
      out.println("variables:");
      t.getVariablesList().forEach(v -> out.println("  " + v.getName()
          + (v.getType().isEmpty() ? "" : " (" + v.getType() + ")")
          + (v.getRequired() ? " required" : " = " + (v.getSensitive() && !showSensitive
              ? "(sensitive)" : v.getDefaultJson()))
          + (v.getDescription().isEmpty() ? "" : "  # " + v.getDescription())));
      out.println("preview:    " + (t.getPreviewAvailable()
          ? t.getPlannedResourcesCount() + " resource(s) planned"
          : "unavailable (" + t.getPreviewUnavailableReason() + ")"));
      t.getPlannedResourcesList().forEach(r -> out.println("  " + r.getAddress()));
    }
    if (job.getRedactedCount() > 0) {
      out.println("redacted:   " + job.getRedactedCount() + " occurrence(s) of secrets masked");
    }
    if (job.getResourcesCount() > 0) {
      out.println("resources:");
      job.getResourcesList().forEach(r -> out.println("  " + r.getAddress()));
    }
    if (job.getOutputsCount() > 0) {
      out.println("outputs:");
      for (Output o : job.getOutputsList()) {
        out.println("  " + o.getName() + " = "
            + (o.getSensitive() && !showSensitive ? "(sensitive)" : o.getValueJson()));
      }
    }
    out.flush();
  }
}
