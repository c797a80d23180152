package dev.outpost.agent.spool;

import dev.outpost.agent.logs.LogJournal;
import dev.outpost.agent.workspace.Trees;
import dev.outpost.proto.v1.CompleteJobRequest;
import dev.outpost.proto.v1.JobAssignment;
import dev.outpost.proto.v1.PayloadKind;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the agent keeps about one accepted job in its state directory (never visible to jobs),
 * so that nothing it accepted is lost when its process dies:
 * <pre>
 *   &lt;stateDir&gt;/jobs/&lt;jobId&gt;/      0700
 *     assignment.pb        the job as assigned (lease, type, variables), written first
 *     agent.log, journal   the log's own part and checkpoints (see {@link LogJournal})
 *     result/              the final result: request.pb and its payloads, forced to disk
 *                          before completion is sent; present only when complete
 * </pre>
 * The record is removed only after the control plane acknowledged the result; a result it
 * refuses for good is moved to {@code <stateDir>/refused/} and kept.
 */
public final class JobSpool {
  private static final Logger log = LoggerFactory.getLogger(JobSpool.class);
  static final String JOBS = "jobs";
  static final String REFUSED = "refused";
  static final String ASSIGNMENT = "assignment.pb";
  static final String RESULT = "result";
  static final String REQUEST = "request.pb";

  /** Room kept in the spool budget for one job's result: a job starts only while it remains. */
  public static final long RESULT_RESERVE = 64L << 20;

  /** A result ready to deliver: the request (payload refs unset) and its payload files. */
  public record SpooledResult(CompleteJobRequest request, Map<PayloadKind, Path> payloads) {}

  private final Path dir;
  private final JobAssignment assignment;

  private JobSpool(Path dir, JobAssignment assignment) {
    this.dir = dir;
    this.assignment = assignment;
  }

  /** Records a job the agent accepts, before it does anything else for it. */
  public static JobSpool create(Path stateDir, JobAssignment assignment) throws IOException {
    Path jobs = privateDir(stateDir.resolve(JOBS));
    Path dir = jobs.resolve(safeName(assignment.getLease().getJobId()));
    if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException("the agent already has a record of job "
          + assignment.getLease().getJobId() + " in " + dir);
    }
    privateDir(dir);
    writeDurably(dir.resolve(ASSIGNMENT), assignment.toByteArray());
    syncDirectory(jobs);
    return new JobSpool(dir, assignment);
  }

  /**
   * The records a previous agent process left: jobs to resume. A record that cannot be read
   * is named in the log and left where it is.
   */
  public static List<JobSpool> existing(Path stateDir) throws IOException {
    Path jobs = stateDir.resolve(JOBS);
    List<JobSpool> found = new ArrayList<>();
    if (!Files.isDirectory(jobs, LinkOption.NOFOLLOW_LINKS)) {
      return found;
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(jobs)) {
      for (Path dir : entries) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        if (unfinished(dir)) {
          // The agent died while recording the job, before it did anything for it.
          log.info("removing the unfinished job record {}", dir);
          deleteTree(dir);
          continue;
        }
        try {
          JobAssignment a = JobAssignment.parseFrom(Files.readAllBytes(dir.resolve(ASSIGNMENT)));
          if (!a.getLease().getJobId().equals(dir.getFileName().toString())) {
            throw new IOException("it names job " + a.getLease().getJobId());
          }
          found.add(new JobSpool(dir, a));
        } catch (IOException e) {
          log.error("the job record {} cannot be read and is left alone: {}", dir,
              e.getMessage());
        }
      }
    }
    return found;
  }

  /**
   * Bytes the job records and refused results take in the state directory. Records removed
   * while they are counted (another job's, once delivered) are left out, not an error.
   */
  public static long usage(Path stateDir) {
    long total = 0;
    for (String area : List.of(JOBS, REFUSED)) {
      total += Trees.sum(stateDir.resolve(area),
          attrs -> attrs.isRegularFile() ? attrs.size() : 0);
    }
    return total;
  }

  /** A record whose assignment was never written whole: empty, or only the temp file. */
  private static boolean unfinished(Path dir) throws IOException {
    try (var entries = Files.list(dir)) {
      return entries.allMatch(p -> p.getFileName().toString().equals(ASSIGNMENT + ".tmp"));
    }
  }

  public JobAssignment assignment() {
    return assignment;
  }

  public String jobId() {
    return assignment.getLease().getJobId();
  }

  public Path dir() {
    return dir;
  }

  public LogJournal journal() throws IOException {
    return new LogJournal(dir);
  }

  /**
   * Writes the final result and copies of its payloads, each forced to disk, and makes them
   * visible at once by renaming the directory: a result is either whole or absent.
   */
  public SpooledResult writeResult(CompleteJobRequest request, Map<PayloadKind, Path> payloads)
      throws IOException {
    Path tmp = dir.resolve(RESULT + ".tmp");
    if (Files.exists(tmp, LinkOption.NOFOLLOW_LINKS)) {
      deleteTree(tmp);
    }
    privateDir(tmp);
    Map<PayloadKind, Path> copies = new EnumMap<>(PayloadKind.class);
    for (Map.Entry<PayloadKind, Path> p : payloads.entrySet()) {
      Path copy = tmp.resolve(p.getKey().name());
      try (InputStream in = Files.newInputStream(p.getValue())) {
        Files.copy(in, copy);
      }
      force(copy);
      copies.put(p.getKey(), dir.resolve(RESULT).resolve(copy.getFileName()));
    }
    writeDurably(tmp.resolve(REQUEST), request.toByteArray());
    syncDirectory(tmp);
    Files.move(tmp, dir.resolve(RESULT), StandardCopyOption.ATOMIC_MOVE);
    syncDirectory(dir);
    return new SpooledResult(request, copies);
  }

  /** The spooled result, if the job got that far. */
  public Optional<SpooledResult> result() throws IOException {
    Path result = dir.resolve(RESULT);
    if (!Files.isRegularFile(result.resolve(REQUEST))) {
      return Optional.empty();
    }
    CompleteJobRequest request = CompleteJobRequest.parseFrom(
        Files.readAllBytes(result.resolve(REQUEST)));
    Map<PayloadKind, Path> payloads = new EnumMap<>(PayloadKind.class);
    for (PayloadKind kind : PayloadKind.values()) {
      if (kind != PayloadKind.UNRECOGNIZED && Files.isRegularFile(result.resolve(kind.name()))) {
        payloads.put(kind, result.resolve(kind.name()));
      }
    }
    return Optional.of(new SpooledResult(request, payloads));
  }

  /** After the control plane acknowledged the result. */
  public void delete() throws IOException {
    deleteTree(dir);
  }

  /** A result the control plane refuses for good: kept for the operator, never resent. */
  public Path setAside() throws IOException {
    Path refused = privateDir(dir.getParent().resolveSibling(REFUSED));
    Path target = refused.resolve(dir.getFileName());
    Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
    return target;
  }

  private static String safeName(String jobId) {
    return dev.outpost.agent.workspace.JobDirectory.resolve(Path.of("/"), jobId)
        .getFileName().toString();
  }

  private static Path privateDir(Path dir) throws IOException {
    Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rwx------")));
    return dir;
  }

  private static void writeDurably(Path file, byte[] bytes) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, bytes);
    force(tmp);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static void force(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  private static void syncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Not every file system lets a directory be forced; the rename itself is still atomic.
      log.debug("cannot force directory {}: {}", dir, e.toString());
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    Trees.deleteRecursively(dir);
  }

  @Override
  public String toString() {
    return "JobSpool[" + dir + "]";
  }
}
