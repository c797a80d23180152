package dev.outpost.agent.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A job directory is removed only after its result was acknowledged. At start, the directories of
 * jobs the agent resumes (their records are in the state directory) are theirs; any other one
 * belongs to a job whose result may not have been delivered and whose record is gone. It is kept
 * (it may hold the only copy of a state) and named in the log, never deleted blindly.
 */
final class WorkDirectory {
  private static final Logger log = LoggerFactory.getLogger(WorkDirectory.class);

  private WorkDirectory() {}

  static void reportLeftovers(Path workDir, java.util.Set<String> resumed) {
    // Hidden entries (the provider cache) are the agent's own, not jobs'.
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(workDir,
        p -> Files.isDirectory(p) && !p.getFileName().toString().startsWith(".")
            && !resumed.contains(p.getFileName().toString()))) {
      for (Path dir : dirs) {
        log.warn("job directory {} is left from an earlier run without a job record in the "
            + "state directory; it is kept (it may hold a Terraform state that was not "
            + "delivered)", dir);
      }
    } catch (IOException e) {
      log.warn("cannot list --work-dir {}: {}", workDir, e.getMessage());
    }
  }
}
