package dev.outpost.stub.store;

import dev.outpost.proto.v1.AuditEvent;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.Org;
import dev.outpost.proto.v1.WorkspaceRef;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * Everything the control plane remembers. Implementations are thread-safe; each method is atomic.
 * Payloads (archives, states, plans) are addressed by an owner ("job/&lt;id&gt;" or
 * "workspace/&lt;org&gt;/&lt;name&gt;") and a name.
 */
public interface Store extends AutoCloseable {
  /** Creates an org; false when it already exists. */
  boolean createOrg(Org org);

  Optional<Org> org(String name);

  List<Org> orgs();

  void putKey(KeyRecord key);

  Optional<KeyRecord> key(String id);

  List<KeyRecord> keys(String org);

  Optional<KeyRecord> updateKey(String id, UnaryOperator<KeyRecord> change);

  /** The workspace, created empty on first use. */
  WorkspaceRecord workspace(WorkspaceRef ref);

  WorkspaceRecord updateWorkspace(WorkspaceRef ref, UnaryOperator<WorkspaceRecord> change);

  void putJob(JobRecord job);

  Optional<JobRecord> job(String id);

  /** Jobs in submission order; all orgs when org is empty. */
  List<JobRecord> jobs(String org);

  Optional<JobRecord> updateJob(String id, UnaryOperator<JobRecord> change);

  void putPayload(String owner, String name, byte[] data);

  Optional<byte[]> payload(String owner, String name);

  /**
   * Stores the entries whose sequence is exactly the next expected one (in order); duplicates and
   * entries beyond a gap are ignored. Returns the highest contiguous sequence stored.
   */
  long appendLogs(String jobId, List<LogEntry> entries);

  /** Up to {@code max} entries with sequence at or above {@code fromSeq}. */
  List<LogEntry> logs(String jobId, long fromSeq, int max);

  long logCount(String jobId);

  /** Remembers a certificate signed at enrollment. */
  void putIssuedCertificate(IssuedCertificate certificate);

  Optional<IssuedCertificate> issuedCertificate(String serial);

  /**
   * Marks a certificate serial (lowercase hex) as revoked, whether or not this control plane
   * issued it (operator certificates can be revoked too). False when it already was.
   */
  boolean revokeCertificate(String serial, Instant at);

  boolean certificateRevoked(String serial);

  void audit(AuditEvent event);

  List<AuditEvent> auditEvents(String org);

  @Override
  void close();
}
