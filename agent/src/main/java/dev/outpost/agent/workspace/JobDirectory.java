package dev.outpost.agent.workspace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * One job's directory under the agent's work directory:
 * <pre>
 *   &lt;workDir&gt;/&lt;jobId&gt;/          0700
 *     source/                 the extracted archive; Terraform's working directory
 *     .outpost/               the agent's files (run logs, control files, HOME, CLI config)
 * </pre>
 */
public final class JobDirectory {
  public static final String VARIABLES_FILE = "variables.tfvars.json";
  /** A job id becomes a path segment: no separators, no dot-only names, no surprises. */
  private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path root;

  private JobDirectory(Path root) {
    this.root = root;
  }

  /** Creates the directory (0700); fails if it already exists, since that is recovery's case. */
  public static JobDirectory create(Path workDir, String jobId) throws IOException {
    JobDirectory dir = new JobDirectory(resolve(workDir, jobId));
    Files.createDirectories(workDir);
    Files.createDirectory(dir.root, PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rwx------")));
    Files.createDirectory(dir.controlDir(), PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rwx------")));
    return dir;
  }

  /** An existing job directory (found at start, for recovery). */
  public static JobDirectory open(Path workDir, String jobId) throws IOException {
    Path root = resolve(workDir, jobId);
    if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException("job directory " + root + " does not exist");
    }
    return new JobDirectory(root);
  }

  /** Where the job with this id lives below workDir; refuses an id that is not a safe name. */
  public static Path resolve(Path workDir, String jobId) {
    if (jobId == null || !SAFE_ID.matcher(jobId).matches()) {
      throw new IllegalArgumentException("job id '" + jobId + "' is not a safe directory name: "
          + "1-128 of letters, digits, '.', '_', '-', starting with a letter or digit");
    }
    return workDir.toAbsolutePath().normalize().resolve(jobId);
  }

  public Path root() {
    return root;
  }

  public Path sourceDir() {
    return root.resolve("source");
  }

  public Path controlDir() {
    return root.resolve(".outpost");
  }

  public Path stateFile() {
    return sourceDir().resolve("terraform.tfstate");
  }

  /**
   * Writes the job's variables as {@value #VARIABLES_FILE} in the control directory (0600: they
   * may be sensitive), for {@code plan -var-file}.
   *
   * @param values variable name to its value as JSON text (e.g. "\"eu-west-1\"", "3", "[1,2]")
   * @throws IllegalArgumentException if a value is not valid JSON, naming the variable
   */
  public Path writeVariables(Map<String, String> values) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    for (Map.Entry<String, String> e : new TreeMap<>(values).entrySet()) {
      JsonNode value;
      try {
        value = JSON.readTree(e.getValue());
      } catch (IOException ex) {
        throw new IllegalArgumentException("value of variable " + e.getKey() + " is not valid JSON", ex);
      }
      if (value == null || value.isMissingNode()) {
        throw new IllegalArgumentException("value of variable " + e.getKey() + " is empty");
      }
      root.set(e.getKey(), value);
    }
    // Outside the configuration and handed to plan as -var-file: an *.auto.tfvars file shipped
    // in the archive would otherwise win over the job's own values (later files win).
    Path file = controlDir().resolve(VARIABLES_FILE);
    writePrivate(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    return file;
  }

  /** The state the control plane holds for the workspace, where Terraform's local backend reads it. */
  public Path writePriorState(byte[] state) throws IOException {
    writePrivate(stateFile(), state);
    return stateFile();
  }

  /** Removes everything; symlinks planted by the job are unlinked, never followed. */
  public void delete() throws IOException {
    Trees.deleteRecursively(root);
  }

  /** Temp file + rename: a crash never leaves a half-written file Terraform would read. */
  private static void writePrivate(Path file, byte[] bytes) throws IOException {
    Files.createDirectories(file.getParent());
    if (Files.isSymbolicLink(file)) {
      throw new IOException(file + " is a symlink; refusing to write through it");
    }
    Path tmp = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      Files.write(tmp, bytes);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  @Override
  public String toString() {
    return "JobDirectory[" + root + "]";
  }
}
