package dev.outpost.agent.terraform;

import dev.outpost.agent.sandbox.SandboxedProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * One started Terraform command. The files are the record: the log pipeline tails them, and a
 * restarted JVM can rebuild this from them (see {@link SandboxedProcess#reattach}).
 *
 * <p>An {@code init} with a provider cache carries the cache's writer lock ({@code cacheLease},
 * else null). It is released as soon as the end is seen here: the first {@link #exitCode()} or
 * {@link #waitFor} that returns a code, or {@link #stop} (whatever it returns; the job runner
 * calls {@code stop(Duration.ZERO)} after every run, which also covers a process that died
 * without recording an exit code). Observing the end only through {@link #process()} does not
 * release it.
 */
public record TerraformRun(String stage, SandboxedProcess process, Path stdoutFile, Path stderrFile,
    ProviderCache.Lease cacheLease) {

  public TerraformRun(String stage, SandboxedProcess process, Path stdoutFile, Path stderrFile) {
    this(stage, process, stdoutFile, stderrFile, null);
  }

  public Optional<Integer> waitFor(Duration timeout) throws InterruptedException {
    return ended(process.waitFor(timeout));
  }

  public Optional<Integer> exitCode() {
    return ended(process.exitCode());
  }

  /** Two-phase: SIGINT to the group (Terraform saves state), kill after the grace. */
  public Optional<Integer> stop(Duration grace) throws InterruptedException {
    try {
      return process.stop(grace);
    } finally {
      releaseCache();
    }
  }

  private Optional<Integer> ended(Optional<Integer> exitCode) {
    if (exitCode.isPresent()) {
      releaseCache();
    }
    return exitCode;
  }

  private void releaseCache() {
    if (cacheLease != null) {
      cacheLease.close();
    }
  }

  /**
   * Failure is decided by exit code alone. A plan exits 2 only with -detailed-exitcode, where
   * it means "changes present", so 2 is success for a plan.
   */
  public boolean succeeded(int exitCode) {
    return exitCode == 0 || (Terraform.PLAN.equals(stage) && exitCode == 2);
  }

  /** Only meaningful for a plan run with -detailed-exitcode. */
  public static boolean planHasChanges(int exitCode) {
    return exitCode == 2;
  }

  /** The -json messages written so far (non-JSON lines are skipped: they are not ours to parse). */
  public List<TerraformMessage> messages() throws IOException {
    return TerraformMessage.parseLines(readOrEmpty(stdoutFile));
  }

  /** Errors and warnings Terraform reported as "diagnostic" messages. */
  public List<TerraformMessage> diagnostics() throws IOException {
    return messages("diagnostic");
  }

  /** The -json messages of one type, e.g. "change_summary"; the output is scanned, not parsed whole. */
  public List<TerraformMessage> messages(String type) throws IOException {
    return TerraformMessage.readType(stdoutFile, type);
  }

  /**
   * The last -json message of one type, e.g. "change_summary", found by reading the output
   * backwards from its end.
   */
  public Optional<TerraformMessage> lastMessage(String type) throws IOException {
    return TerraformMessage.readLast(stdoutFile, type);
  }

  /** The end of stderr, to attach to an error (Terraform's crash output lands there). */
  public String stderrTail(int maxChars) throws IOException {
    String text = readOrEmpty(stderrFile).strip();
    return text.length() <= maxChars ? text : text.substring(text.length() - maxChars);
  }

  private static String readOrEmpty(Path file) throws IOException {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return "";
    }
  }
}
