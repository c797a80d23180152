package dev.outpost.agent.cli;

import dev.outpost.agent.daemon.ControlPlaneClient;
import dev.outpost.agent.daemon.Credentials;
import dev.outpost.agent.daemon.Failure;
import dev.outpost.agent.ops.AgentConfig;
import dev.outpost.agent.ops.ByteSize;
import dev.outpost.agent.ops.ConfigException;
import dev.outpost.proto.ExitCodes;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "check", description = "Run the preflight with the settings `run` would use "
    + "and print a table: configuration, Terraform, sandbox, state and work directories, "
    + "certificate, control plane (reachable, org key and certificate accepted). Takes no job. "
    + "Exits 0 when every check passes, else with the exit code `run` would fail with "
    + "(2 configuration, 3 credentials, 4 unreachable, 5 sandbox, 6 Terraform).")
final class CheckCommand implements Callable<Integer> {
  /** A certificate this close to its end is flagged (renewal happens at two thirds). */
  private static final Duration EXPIRY_WARNING = Duration.ofDays(7);

  @Mixin
  AgentOptions options = new AgentOptions();

  @Spec
  CommandSpec spec;

  enum Result { PASS, WARN, FAIL }

  record Row(String check, Result result, String detail, int exitCode) {
    static Row pass(String check, String detail) {
      return new Row(check, Result.PASS, detail, ExitCodes.OK);
    }

    static Row warn(String check, String detail) {
      return new Row(check, Result.WARN, detail, ExitCodes.OK);
    }

    static Row fail(String check, String detail, int exitCode) {
      return new Row(check, Result.FAIL, detail, exitCode);
    }
  }

  @Override
  public Integer call() throws InterruptedException {
    List<Row> rows = new ArrayList<>();
    AgentConfig config;
    try {
      config = options.config();
      config.prepareDirectories();
      rows.add(Row.pass("configuration", "valid"));
    } catch (ConfigException e) {
      rows.add(Row.fail("configuration", e.getMessage(), ExitCodes.CONFIG));
      return print(rows);
    }
    Preflight.Local local = Preflight.local(config);
    if (local.terraform() != null) {
      rows.add(local.failureCode() == ExitCodes.TERRAFORM_UNAVAILABLE
          ? Row.fail("terraform", local.failure(), local.failureCode())
          : Row.pass("terraform", local.terraform().name() + " " + local.terraform().version()
              + " at " + config.terraform()));
    } else {
      rows.add(Row.fail("terraform", local.failure(), local.failureCode()));
    }
    if (local.sandbox() != null) {
      rows.add(Row.pass("sandbox", local.sandbox().name() + " works; "
          + local.sandbox().limitsInForce(config.limits()).summary()));
    } else if (local.failureCode() == ExitCodes.SANDBOX_UNAVAILABLE) {
      rows.add(Row.fail("sandbox", local.failure(), local.failureCode()));
    }
    rows.add(directory("state directory", config.stateDir(), 0));
    rows.add(directory("work directory", config.workDir(), config.minFreeDiskBytes()));
    Credentials credentials;
    try {
      credentials = RunCommand.credentials(config);
    } catch (ConfigException e) {
      rows.add(Row.fail("certificate", e.getMessage(), ExitCodes.CONFIG));
      return print(rows);
    }
    rows.add(certificate(credentials, config));
    rows.add(controlPlane(config, credentials));
    return print(rows);
  }

  private static Row directory(String check, Path dir, long minFree) {
    try {
      PosixFileAttributes attrs = Files.readAttributes(dir, PosixFileAttributes.class,
          LinkOption.NOFOLLOW_LINKS);
      Set<PosixFilePermission> perms = attrs.permissions();
      String mode = PosixFilePermissions.toString(perms);
      String owner = attrs.owner().getName();
      String me = System.getProperty("user.name");
      if (!owner.equals(me)) {
        return Row.fail(check, dir + " belongs to " + owner + ", not to " + me
            + " who runs the agent", ExitCodes.CONFIG);
      }
      if (!mode.endsWith("------")) {
        return Row.fail(check, dir + " is " + mode + ": others could read the agent's keys or "
            + "jobs; chmod 700 it", ExitCodes.CONFIG);
      }
      if (!Files.isWritable(dir)) {
        return Row.fail(check, dir + " is not writable", ExitCodes.CONFIG);
      }
      long free = Files.getFileStore(dir).getUsableSpace();
      if (free < minFree) {
        return Row.fail(check, dir + " has " + ByteSize.format(free) + " free, below "
            + "--min-free-disk " + ByteSize.format(minFree), ExitCodes.CONFIG);
      }
      return Row.pass(check, dir + " (" + owner + ", " + mode + ", "
          + String.format(java.util.Locale.ROOT, "%.1f GiB", free / (double) (1L << 30))
          + " free)");
    } catch (IOException e) {
      return Row.fail(check, dir + ": " + e, ExitCodes.CONFIG);
    }
  }

  private static Row certificate(Credentials credentials, AgentConfig config) {
    X509Certificate cert = credentials.certificate().orElse(null);
    if (cert == null) {
      return Row.warn("certificate", "none yet: the agent enrolls with the org key at start "
          + "and keeps its key in " + config.stateDir());
    }
    Instant now = Instant.now();
    Instant notAfter = cert.getNotAfter().toInstant();
    String subject = cert.getSubjectX500Principal().getName();
    if (now.isBefore(cert.getNotBefore().toInstant())) {
      return Row.fail("certificate", subject + " is not valid before "
          + cert.getNotBefore().toInstant() + " (check the clock)", ExitCodes.AUTH);
    }
    if (!now.isBefore(notAfter)) {
      return config.enrolls()
          ? Row.warn("certificate", subject + " expired at " + notAfter + "; the agent "
              + "enrolls again at start")
          : Row.fail("certificate", subject + " expired at " + notAfter, ExitCodes.AUTH);
    }
    Duration left = Duration.between(now, notAfter);
    String detail = subject + ", expires " + notAfter + " (in " + left.toDays() + " days)";
    return left.compareTo(EXPIRY_WARNING) < 0 && !config.enrolls()
        ? Row.warn("certificate", detail + ": replace it soon")
        : Row.pass("certificate", detail);
  }

  private static Row controlPlane(AgentConfig config, Credentials credentials) {
    try (ControlPlaneClient client = new ControlPlaneClient(config.controlPlane(),
        credentials)) {
      client.ping(Duration.ofSeconds(10));
      return Row.pass("control plane", config.controlPlane() + " reachable; org key and "
          + "certificate accepted");
    } catch (StatusRuntimeException e) {
      Failure f = Failure.of(e);
      if (credentials.certificate().isEmpty()
          && e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
        return Row.warn("control plane", config.controlPlane() + " reachable; the org key is "
            + "checked when the agent enrolls: " + f.message());
      }
      return Row.fail("control plane", f.message(), f.kind().exitCode);
    }
  }

  private int print(List<Row> rows) {
    PrintWriter out = spec.commandLine().getOut();
    int width = rows.stream().mapToInt(r -> r.check().length()).max().orElse(10);
    out.printf("%-" + width + "s  %-6s %s%n", "CHECK", "RESULT", "DETAIL");
    int code = ExitCodes.OK;
    for (Row row : rows) {
      out.printf("%-" + width + "s  %-6s %s%n", row.check(), row.result().name().toLowerCase(
          java.util.Locale.ROOT), ConfigCommand.Print.mask(row.detail()));
      if (code == ExitCodes.OK && row.result() == Result.FAIL) {
        code = row.exitCode();
      }
    }
    out.println(code == ExitCodes.OK ? "all checks passed" : "FAILED (exit " + code + ")");
    out.flush();
    return code;
  }
}
