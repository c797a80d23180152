package dev.outpost.stub.cli;

import dev.outpost.proto.v1.ApplyJob;
import dev.outpost.proto.v1.CancelJobRequest;
import dev.outpost.proto.v1.DestroyJob;
import dev.outpost.proto.v1.GetJobRequest;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.JobType;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.PlanJob;
import dev.outpost.proto.v1.StreamLogsRequest;
import dev.outpost.proto.v1.SubmitJobHeader;
import dev.outpost.proto.v1.TemplateImport;
import dev.outpost.proto.v1.Variable;
import dev.outpost.proto.v1.WorkspaceRef;
import dev.outpost.stub.server.AdminClient;
import dev.outpost.stub.server.SourceArchive;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "job", description = "Submit and inspect jobs.", subcommands = {
    JobCommand.Submit.class, JobCommand.Logs.class, JobCommand.Show.class, JobCommand.Cancel.class,
    JobCommand.Wait.class})
final class JobCommand {
  @Command(name = "submit", description = "Pack DIR and queue a job; prints the job id.")
  static final class Submit implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Parameters(paramLabel = "DIR", description = "A directory with Terraform configuration.")
    Path dir;

    @Option(names = "--org", required = true)
    String org;

    @Option(names = "--workspace", required = true)
    String workspace;

    @Option(names = "--action", defaultValue = "apply",
        description = "import, plan, apply or destroy (default: ${DEFAULT-VALUE}).")
    String action;

    @Option(names = "--var", description = "A variable k=v (repeatable).")
    Map<String, String> vars = new LinkedHashMap<>();

    @Option(names = "--sensitive-var", description = "A sensitive variable k=v: redacted from "
        + "every log line (repeatable).")
    Map<String, String> sensitiveVars = new LinkedHashMap<>();

    @Option(names = "--tag", description = "A routing tag k=v: only agents with it take the job.")
    Map<String, String> tags = new LinkedHashMap<>();

    @Option(names = "--network", defaultValue = "full", description = "full or none.")
    String network;

    @Option(names = "--terraform-version", paramLabel = "CONSTRAINT", defaultValue = "",
        description = "Only agents whose Terraform satisfies this take the job, e.g. \"~> 1.11\".")
    String terraformVersion;

    @Option(names = "--plan", paramLabel = "JOB", description = "With --action apply: apply the "
        + "saved plan of this finished plan job (Terraform refuses it if the state moved on).")
    String planJob;

    @Override
    public Integer call() throws Exception {
      JobType type = type(action);
      if (planJob != null) {
        if (!type.hasApply()) {
          throw new CliException(CliException.Kind.CONFIG, "--plan goes with --action apply");
        }
        type = JobType.newBuilder().setApply(ApplyJob.newBuilder().setSavedPlanJobId(planJob))
            .build();
      }
      SubmitJobHeader.Builder header = SubmitJobHeader.newBuilder()
          .setWorkspace(WorkspaceRef.newBuilder().setOrg(org).setName(workspace))
          .setType(type).putAllTags(tags).setNetwork(network)
          .setTerraformVersionConstraint(terraformVersion);
      vars.forEach((k, v) -> header.addVariables(Variable.newBuilder().setName(k).setValue(v)));
      sensitiveVars.forEach((k, v) -> header.addVariables(
          Variable.newBuilder().setName(k).setValue(v).setSensitive(true)));
      byte[] archive;
      try {
        archive = SourceArchive.pack(dir);
      } catch (IllegalArgumentException e) {
        throw new CliException(CliException.Kind.CONFIG, e.getMessage());
      }
      try (AdminClient client = admin.connect()) {
        Job job = client.submit(header.build(), archive);
        System.out.println(job.getId());
      }
      return 0;
    }

    static JobType type(String action) {
      return switch (action) {
        case "import" -> JobType.newBuilder().setTemplateImport(TemplateImport.getDefaultInstance())
            .build();
        case "plan" -> JobType.newBuilder().setPlan(PlanJob.getDefaultInstance()).build();
        case "apply" -> JobType.newBuilder().setApply(ApplyJob.getDefaultInstance()).build();
        case "destroy" -> JobType.newBuilder().setDestroy(DestroyJob.getDefaultInstance()).build();
        default -> throw new CliException(CliException.Kind.CONFIG, "--action '" + action
            + "' is invalid: use import, plan, apply or destroy");
      };
    }
  }

  @Command(name = "logs", description = "Print a job's log.")
  static final class Logs implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Parameters(paramLabel = "JOB_ID")
    String id;

    @Option(names = {"-f", "--follow"}, description = "Keep printing until the job has ended.")
    boolean follow;

    @Option(names = "--raw", description = "Print Terraform's JSON lines as they were written.")
    boolean raw;

    @Override
    public Integer call() {
      try (AdminClient client = admin.connect()) {
        print(client, id, follow, raw, System.out);
      }
      return 0;
    }
  }

  static long print(AdminClient client, String id, boolean follow, boolean raw, PrintStream out) {
    Iterator<LogEntry> entries = client.following().streamLogs(StreamLogsRequest.newBuilder()
        .setJobId(id).setFollow(follow).build());
    long n = 0;
    while (entries.hasNext()) {
      LogEntry e = entries.next();
      out.println(raw || e.getMessage().isEmpty() ? e.getRaw() : e.getMessage());
      n++;
    }
    out.flush();
    return n;
  }

  @Command(name = "show", description = "Show a job's status and results; sensitive values "
      + "are masked unless --show-sensitive is given.")
  static final class Show implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Parameters(paramLabel = "JOB_ID")
    String id;

    @Option(names = "--show-sensitive", description = "Print sensitive output values in clear.")
    boolean showSensitive;

    @Override
    public Integer call() {
      try (AdminClient client = admin.connect()) {
        Job job = client.blocking(10).getJob(GetJobRequest.newBuilder().setId(id).build());
        JobView.print(job, showSensitive, System.out);
      }
      return 0;
    }
  }

  @Command(name = "cancel", description = "Ask a job to stop.")
  static final class Cancel implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Parameters(paramLabel = "JOB_ID")
    String id;

    @Override
    public Integer call() {
      try (AdminClient client = admin.connect()) {
        Job job = client.blocking(10).cancelJob(CancelJobRequest.newBuilder().setId(id).build());
        System.out.println(id + ": " + JobView.status(job.getStatus()));
      }
      return 0;
    }
  }

  @Command(name = "wait", description = "Wait until a job has ended; exit 0 when it succeeded, "
      + "7 otherwise.")
  static final class Wait implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Parameters(paramLabel = "JOB_ID")
    String id;

    @Option(names = "--timeout", defaultValue = "PT10M", description = "ISO-8601 duration.")
    Duration timeout;

    @Override
    public Integer call() throws InterruptedException {
      try (AdminClient client = admin.connect()) {
        Job job = await(client, id, timeout);
        System.out.println(id + ": " + JobView.status(job.getStatus()));
        if (job.getStatus() != JobStatus.JOB_STATUS_SUCCEEDED) {
          throw new CliException(CliException.Kind.JOB_FAILED, "job " + id + " ended "
              + JobView.status(job.getStatus()) + (job.getErrorMessage().isEmpty() ? ""
              : ": " + job.getErrorMessage()));
        }
      }
      return 0;
    }
  }

  /** Polls until the job has ended and its log is complete. */
  static Job await(AdminClient client, String id, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Job job = client.blocking(10).getJob(GetJobRequest.newBuilder().setId(id).build());
      if (JobView.terminal(job.getStatus()) && job.getLogEntries() >= job.getLastLogSeq()) {
        return job;
      }
      if (System.nanoTime() > deadline) {
        throw new CliException(CliException.Kind.JOB_FAILED, "job " + id + " still "
            + JobView.status(job.getStatus()) + " after " + timeout);
      }
      Thread.sleep(100);
    }
  }
}
