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
          + job.getStateSerial() + (job.getStateKeptAside() ? " (kept aside, not adopted)" : ""));
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
