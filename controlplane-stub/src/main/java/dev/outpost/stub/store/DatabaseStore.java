package dev.outpost.stub.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.outpost.proto.v1.AuditEvent;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.Org;
import dev.outpost.proto.v1.WorkspaceRef;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The durable store: an embedded H2 database file, so a restart of the stub loses no org, key,
 * workspace, job, lease, log line or payload. Every method is one transaction on a single
 * connection; a commit is written to the file before the method returns (WRITE_DELAY=0), so a
 * killed stub keeps everything it acknowledged.
 */
public final class DatabaseStore implements Store {
  /** The database file's name in the data directory (H2 adds ".mv.db"). */
  public static final String FILE = "outpost-stub";

  private static final String[] SCHEMA = {
      "CREATE TABLE IF NOT EXISTS orgs (ord BIGINT AUTO_INCREMENT PRIMARY KEY,"
          + " name VARCHAR(200) NOT NULL UNIQUE, data VARBINARY NOT NULL)",
      "CREATE TABLE IF NOT EXISTS org_keys (ord BIGINT AUTO_INCREMENT PRIMARY KEY,"
          + " id VARCHAR(200) NOT NULL UNIQUE, org VARCHAR(200) NOT NULL,"
          + " data VARBINARY NOT NULL)",
      "CREATE TABLE IF NOT EXISTS workspaces (k VARCHAR(500) PRIMARY KEY,"
          + " data VARBINARY NOT NULL)",
      "CREATE TABLE IF NOT EXISTS jobs (ord BIGINT AUTO_INCREMENT PRIMARY KEY,"
          + " id VARCHAR(200) NOT NULL UNIQUE, org VARCHAR(200) NOT NULL,"
          + " data VARBINARY NOT NULL)",
      "CREATE TABLE IF NOT EXISTS payloads (owner VARCHAR(500) NOT NULL,"
          + " name VARCHAR(200) NOT NULL, data BLOB NOT NULL, PRIMARY KEY (owner, name))",
      "CREATE TABLE IF NOT EXISTS logs (job_id VARCHAR(200) NOT NULL, seq BIGINT NOT NULL,"
          + " data VARBINARY NOT NULL, PRIMARY KEY (job_id, seq))",
      "CREATE TABLE IF NOT EXISTS certificates (serial VARCHAR(100) PRIMARY KEY,"
          + " data VARBINARY NOT NULL)",
      "CREATE TABLE IF NOT EXISTS revoked_certificates (serial VARCHAR(100) PRIMARY KEY,"
          + " revoked_at_seconds BIGINT NOT NULL, revoked_at_nanos INT NOT NULL)",
      "CREATE TABLE IF NOT EXISTS audit (ord BIGINT AUTO_INCREMENT PRIMARY KEY,"
          + " org VARCHAR(200) NOT NULL, data VARBINARY NOT NULL)",
  };

  private final Connection db;

  private DatabaseStore(Connection db) {
    this.db = db;
  }

  /**
   * Opens (or creates) the database in {@code dir}.
   *
   * @throws IllegalStateException naming the file when it cannot be opened (in use by another
   *     stub, corrupt, not writable)
   */
  public static DatabaseStore open(Path dir) {
    Path file = dir.toAbsolutePath().resolve(FILE);
    try {
      // FILE_LOCK=FILE: a second stub on the same data directory is refused, not corrupting.
      Connection c = DriverManager.getConnection("jdbc:h2:file:" + file
          + ";FILE_LOCK=FILE;WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE", "outpost", "");
      c.setAutoCommit(true);
      try (Statement s = c.createStatement()) {
        for (String ddl : SCHEMA) {
          s.execute(ddl);
        }
      }
      return new DatabaseStore(c);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot open the store " + file + ".mv.db: "
          + e.getMessage(), e);
    }
  }

  @Override
  public synchronized boolean createOrg(Org org) {
    if (org(org.getName()).isPresent()) {
      return false;
    }
    update("INSERT INTO orgs (name, data) VALUES (?, ?)", org.getName(), org.toByteArray());
    return true;
  }

  @Override
  public synchronized Optional<Org> org(String name) {
    return one("SELECT data FROM orgs WHERE name = ?", DatabaseStore::org, name);
  }

  @Override
  public synchronized List<Org> orgs() {
    return all("SELECT data FROM orgs ORDER BY ord", DatabaseStore::org);
  }

  @Override
  public synchronized void putKey(KeyRecord key) {
    update("MERGE INTO org_keys (id, org, data) KEY (id) VALUES (?, ?, ?)", key.id(), key.org(),
        RecordCodec.key(key));
  }

  @Override
  public synchronized Optional<KeyRecord> key(String id) {
    return one("SELECT data FROM org_keys WHERE id = ?", RecordCodec::key, id);
  }

  @Override
  public synchronized List<KeyRecord> keys(String org) {
    return all("SELECT data FROM org_keys WHERE org = ? ORDER BY ord", RecordCodec::key, org);
  }

  @Override
  public synchronized Optional<KeyRecord> updateKey(String id, UnaryOperator<KeyRecord> change) {
    Optional<KeyRecord> updated = key(id).map(change);
    updated.ifPresent(this::putKey);
    return updated;
  }

  @Override
  public synchronized WorkspaceRecord workspace(WorkspaceRef ref) {
    return this.<WorkspaceRecord>one("SELECT data FROM workspaces WHERE k = ?",
        RecordCodec::workspace, key(ref)).orElseGet(() -> WorkspaceRecord.empty(ref));
  }

  @Override
  public synchronized WorkspaceRecord updateWorkspace(WorkspaceRef ref,
      UnaryOperator<WorkspaceRecord> change) {
    WorkspaceRecord updated = change.apply(workspace(ref));
    update("MERGE INTO workspaces (k, data) KEY (k) VALUES (?, ?)", key(ref),
        RecordCodec.workspace(updated));
    return updated;
  }

  @Override
  public synchronized void putJob(JobRecord job) {
    update("MERGE INTO jobs (id, org, data) KEY (id) VALUES (?, ?, ?)", job.id(),
        job.view().getWorkspace().getOrg(), RecordCodec.job(job));
  }

  @Override
  public synchronized Optional<JobRecord> job(String id) {
    return one("SELECT data FROM jobs WHERE id = ?", RecordCodec::job, id);
  }

  @Override
  public synchronized List<JobRecord> jobs(String org) {
    return org.isEmpty() ? all("SELECT data FROM jobs ORDER BY ord", RecordCodec::job)
        : all("SELECT data FROM jobs WHERE org = ? ORDER BY ord", RecordCodec::job, org);
  }

  @Override
  public synchronized Optional<JobRecord> updateJob(String id, UnaryOperator<JobRecord> change) {
    Optional<JobRecord> updated = job(id).map(change);
    updated.ifPresent(this::putJob);
    return updated;
  }

  @Override
  public synchronized void putPayload(String owner, String name, byte[] data) {
    update("MERGE INTO payloads (owner, name, data) KEY (owner, name) VALUES (?, ?, ?)", owner,
        name, data);
  }

  @Override
  public synchronized Optional<byte[]> payload(String owner, String name) {
    return one("SELECT data FROM payloads WHERE owner = ? AND name = ?", b -> b, owner, name);
  }

  @Override
  public synchronized long appendLogs(String jobId, List<LogEntry> entries) {
    long count = logCount(jobId);
    try {
      db.setAutoCommit(false);
      try (PreparedStatement insert =
          db.prepareStatement("INSERT INTO logs (job_id, seq, data) VALUES (?, ?, ?)")) {
        for (LogEntry entry : entries) {
          // Only the next one in order: a duplicate or a gap is ignored, as in memory.
          if (entry.getSeq() == count + 1) {
            insert.setString(1, jobId);
            insert.setLong(2, entry.getSeq());
            insert.setBytes(3, entry.toByteArray());
            insert.executeUpdate();
            count++;
          }
        }
      }
      db.commit();
      return count;
    } catch (SQLException e) {
      rollback();
      throw failure("append logs of " + jobId, e);
    } finally {
      autoCommit();
    }
  }

  @Override
  public synchronized List<LogEntry> logs(String jobId, long fromSeq, int max) {
    return all("SELECT data FROM logs WHERE job_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
        DatabaseStore::logEntry, jobId, Math.max(1, fromSeq), max);
  }

  @Override
  public synchronized long logCount(String jobId) {
    return this.<Long>one("SELECT COALESCE(MAX(seq), 0) FROM logs WHERE job_id = ?",
        null, jobId).orElse(0L);
  }

  @Override
  public synchronized void putIssuedCertificate(IssuedCertificate certificate) {
    update("MERGE INTO certificates (serial, data) KEY (serial) VALUES (?, ?)",
        certificate.serial(), RecordCodec.certificate(certificate));
  }

  @Override
  public synchronized Optional<IssuedCertificate> issuedCertificate(String serial) {
    return one("SELECT data FROM certificates WHERE serial = ?", RecordCodec::certificate,
        serial);
  }

  @Override
  public synchronized boolean revokeCertificate(String serial, Instant at) {
    if (certificateRevoked(serial)) {
      return false;
    }
    update("INSERT INTO revoked_certificates (serial, revoked_at_seconds, revoked_at_nanos)"
        + " VALUES (?, ?, ?)", serial, at.getEpochSecond(), at.getNano());
    return true;
  }

  @Override
  public synchronized boolean certificateRevoked(String serial) {
    return this.<Long>one("SELECT COUNT(*) FROM revoked_certificates WHERE serial = ?", null,
        serial).orElse(0L) > 0;
  }

  @Override
  public synchronized void audit(AuditEvent event) {
    update("INSERT INTO audit (org, data) VALUES (?, ?)", event.getOrg(), event.toByteArray());
  }

  @Override
  public synchronized List<AuditEvent> auditEvents(String org) {
    return org.isEmpty() ? all("SELECT data FROM audit ORDER BY ord", DatabaseStore::auditEvent)
        : all("SELECT data FROM audit WHERE org = ? ORDER BY ord", DatabaseStore::auditEvent,
            org);
  }

  @Override
  public synchronized void close() {
    try {
      db.close();
    } catch (SQLException e) {
      throw failure("close", e);
    }
  }

  private interface Decoder<T> {
    T decode(byte[] data) throws InvalidProtocolBufferException;
  }

  /** @param decoder null: the first column is a number */
  @SuppressWarnings("unchecked")
  private <T> Optional<T> one(String sql, Decoder<T> decoder, Object... args) {
    try (PreparedStatement s = prepare(sql, args); ResultSet r = s.executeQuery()) {
      if (!r.next()) {
        return Optional.empty();
      }
      return Optional.of(decoder == null ? (T) Long.valueOf(r.getLong(1))
          : decoder.decode(r.getBytes(1)));
    } catch (SQLException | InvalidProtocolBufferException e) {
      throw failure(sql, e);
    }
  }

  private <T> List<T> all(String sql, Decoder<T> decoder, Object... args) {
    try (PreparedStatement s = prepare(sql, args); ResultSet r = s.executeQuery()) {
      List<T> list = new ArrayList<>();
      while (r.next()) {
        list.add(decoder.decode(r.getBytes(1)));
      }
      return List.copyOf(list);
    } catch (SQLException | InvalidProtocolBufferException e) {
      throw failure(sql, e);
    }
  }

  private void update(String sql, Object... args) {
    try (PreparedStatement s = prepare(sql, args)) {
      s.executeUpdate();
    } catch (SQLException e) {
      throw failure(sql, e);
    }
  }

  private PreparedStatement prepare(String sql, Object... args) throws SQLException {
    PreparedStatement s = db.prepareStatement(sql);
    for (int i = 0; i < args.length; i++) {
      s.setObject(i + 1, args[i]);
    }
    return s;
  }

  private void rollback() {
    try {
      db.rollback();
    } catch (SQLException ignored) {
      // the original failure is what matters
    }
  }

  private void autoCommit() {
    try {
      db.setAutoCommit(true);
    } catch (SQLException e) {
      throw failure("restore autocommit", e);
    }
  }

  private static IllegalStateException failure(String what, Exception e) {
    return new IllegalStateException("store failure (" + what + "): " + e.getMessage(), e);
  }

  private static Org org(byte[] data) throws InvalidProtocolBufferException {
    return Org.parseFrom(data);
  }

  private static LogEntry logEntry(byte[] data) throws InvalidProtocolBufferException {
    return LogEntry.parseFrom(data);
  }

  private static AuditEvent auditEvent(byte[] data) throws InvalidProtocolBufferException {
    return AuditEvent.parseFrom(data);
  }

  private static String key(WorkspaceRef ref) {
    return ref.getOrg() + "/" + ref.getName();
  }
}
