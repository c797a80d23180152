package dev.outpost.agent.job;

/** How a job ended: a value, decided once, reported exactly once. */
public sealed interface JobOutcome {
  /** The outcome as it travels on the wire. */
  dev.outpost.proto.v1.JobOutcome wire();

  /** Why the job did not succeed; empty on success. */
  String message();

  /** Terraform's exit code of the last command run; -1 when none ran or it is unknown. */
  int exitCode();

  record Succeeded() implements JobOutcome {
    @Override
    public dev.outpost.proto.v1.JobOutcome wire() {
      return dev.outpost.proto.v1.JobOutcome.JOB_OUTCOME_SUCCEEDED;
    }

    @Override
    public String message() {
      return "";
    }

    @Override
    public int exitCode() {
      return 0;
    }
  }

  record Failed(String message, int exitCode) implements JobOutcome {
    @Override
    public dev.outpost.proto.v1.JobOutcome wire() {
      return dev.outpost.proto.v1.JobOutcome.JOB_OUTCOME_FAILED;
    }
  }

  record Cancelled(String message, int exitCode) implements JobOutcome {
    @Override
    public dev.outpost.proto.v1.JobOutcome wire() {
      return dev.outpost.proto.v1.JobOutcome.JOB_OUTCOME_CANCELLED;
    }
  }

  record Interrupted(String message) implements JobOutcome {
    @Override
    public dev.outpost.proto.v1.JobOutcome wire() {
      return dev.outpost.proto.v1.JobOutcome.JOB_OUTCOME_INTERRUPTED;
    }

    @Override
    public int exitCode() {
      return -1;
    }
  }
}
