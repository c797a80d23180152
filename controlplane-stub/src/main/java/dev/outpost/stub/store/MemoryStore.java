package dev.outpost.stub.store;

import dev.outpost.proto.v1.AuditEvent;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.Org;
import dev.outpost.proto.v1.WorkspaceRef;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

/** A store that keeps everything in memory: for tests and the demo; lost on restart. */
public final class MemoryStore implements Store {
  private final Map<String, Org> orgs = new LinkedHashMap<>();
  private final Map<String, KeyRecord> keys = new LinkedHashMap<>();
  private final Map<String, WorkspaceRecord> workspaces = new HashMap<>();
  private final Map<String, JobRecord> jobs = new LinkedHashMap<>();
  private final Map<String, byte[]> payloads = new HashMap<>();
  private final Map<String, List<LogEntry>> logs = new HashMap<>();
  private final List<AuditEvent> audit = new ArrayList<>();
  private final Map<String, IssuedCertificate> issued = new HashMap<>();
  private final Map<String, Instant> revokedSerials = new HashMap<>();

  @Override
  public synchronized boolean createOrg(Org org) {
    return orgs.putIfAbsent(org.getName(), org) == null;
  }

  @Override
  public synchronized Optional<Org> org(String name) {
    return Optional.ofNullable(orgs.get(name));
  }

  @Override
  public synchronized List<Org> orgs() {
    return List.copyOf(orgs.values());
  }

  @Override
  public synchronized void putKey(KeyRecord key) {
    keys.put(key.id(), key);
  }

  @Override
  public synchronized Optional<KeyRecord> key(String id) {
    return Optional.ofNullable(keys.get(id));
  }

  @Override
  public synchronized List<KeyRecord> keys(String org) {
    return keys.values().stream().filter(k -> k.org().equals(org)).toList();
  }

  @Override
  public synchronized Optional<KeyRecord> updateKey(String id, UnaryOperator<KeyRecord> change) {
    return Optional.ofNullable(keys.computeIfPresent(id, (k, v) -> change.apply(v)));
  }

  @Override
  public synchronized WorkspaceRecord workspace(WorkspaceRef ref) {
    return workspaces.computeIfAbsent(key(ref), k -> WorkspaceRecord.empty(ref));
  }

  @Override
  public synchronized WorkspaceRecord updateWorkspace(WorkspaceRef ref,
      UnaryOperator<WorkspaceRecord> change) {
    WorkspaceRecord updated = change.apply(workspace(ref));
    workspaces.put(key(ref), updated);
    return updated;
  }

  @Override
  public synchronized void putJob(JobRecord job) {
    jobs.put(job.id(), job);
  }

  @Override
  public synchronized Optional<JobRecord> job(String id) {
    return Optional.ofNullable(jobs.get(id));
  }

  @Override
  public synchronized List<JobRecord> jobs(String org) {
    return jobs.values().stream()
        .filter(j -> org.isEmpty() || j.view().getWorkspace().getOrg().equals(org)).toList();
  }

  @Override
  public synchronized Optional<JobRecord> updateJob(String id, UnaryOperator<JobRecord> change) {
    return Optional.ofNullable(jobs.computeIfPresent(id, (k, v) -> change.apply(v)));
  }

  @Override
  public synchronized void putPayload(String owner, String name, byte[] data) {
    payloads.put(owner + "#" + name, data.clone());
  }

  @Override
  public synchronized Optional<byte[]> payload(String owner, String name) {
    byte[] data = payloads.get(owner + "#" + name);
    return Optional.ofNullable(data == null ? null : data.clone());
  }

  @Override
  public synchronized long appendLogs(String jobId, List<LogEntry> entries) {
    List<LogEntry> stored = logs.computeIfAbsent(jobId, k -> new ArrayList<>());
    for (LogEntry entry : entries) {
      if (entry.getSeq() == stored.size() + 1L) {
        stored.add(entry);
      }
    }
    return stored.size();
  }

  @Override
  public synchronized List<LogEntry> logs(String jobId, long fromSeq, int max) {
    List<LogEntry> stored = logs.getOrDefault(jobId, List.of());
    int from = (int) Math.max(0, Math.min(stored.size(), fromSeq - 1));
    return List.copyOf(stored.subList(from, Math.min(stored.size(), from + max)));
  }

  @Override
  public synchronized long logCount(String jobId) {
    return logs.getOrDefault(jobId, List.of()).size();
  }

  @Override
  public synchronized void putIssuedCertificate(IssuedCertificate certificate) {
    issued.put(certificate.serial(), certificate);
  }

  @Override
  public synchronized Optional<IssuedCertificate> issuedCertificate(String serial) {
    return Optional.ofNullable(issued.get(serial));
  }

  @Override
  public synchronized boolean revokeCertificate(String serial, Instant at) {
    return revokedSerials.putIfAbsent(serial, at) == null;
  }

  @Override
  public synchronized boolean certificateRevoked(String serial) {
    return revokedSerials.containsKey(serial);
  }

  @Override
  public synchronized void audit(AuditEvent event) {
    audit.add(event);
  }

  @Override
  public synchronized List<AuditEvent> auditEvents(String org) {
    return audit.stream().filter(e -> org.isEmpty() || e.getOrg().equals(org)).toList();
  }

  @Override
  public void close() {}

  private static String key(WorkspaceRef ref) {
    return ref.getOrg() + "/" + ref.getName();
  }
}
