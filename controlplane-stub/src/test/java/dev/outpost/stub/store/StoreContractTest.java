package dev.outpost.stub.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.proto.v1.AuditEvent;
import dev.outpost.proto.v1.Job;
import dev.outpost.proto.v1.JobStatus;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.Org;
import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import dev.outpost.proto.v1.Variable;
import dev.outpost.proto.v1.WorkspaceRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What every store must do, run against the in-memory store and the database; and what only
 * the database does: keep everything across a close and reopen, and refuse a corrupt file with
 * a message naming it (a second stub on the same directory: StubRestartIT).
 */
class StoreContractTest {
  private static final Instant T0 = Instant.parse("2026-11-27T10:15:30.123456789Z");
  private static final WorkspaceRef WS = WorkspaceRef.newBuilder().setOrg("acme").setName("ws")
      .build();

  @TempDir
  Path tmp;

  private Store open(String kind) {
    return kind.equals("memory") ? new MemoryStore() : DatabaseStore.open(tmp);
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "database"})
  void orgsKeysWorkspacesJobs_roundTripAndUpdate(String kind) {
    try (Store store = open(kind)) {
      fill(store);
      assertFilled(store);
      assertThat(store.createOrg(Org.newBuilder().setName("acme").build())).isFalse();
      assertThat(store.updateKey("k1", k -> k.revoked(T0.plusSeconds(5)))).get()
          .extracting(KeyRecord::revokedAt).isEqualTo(T0.plusSeconds(5));
      assertThat(store.key("k1")).get().extracting(KeyRecord::revokedAt)
          .isEqualTo(T0.plusSeconds(5));
      assertThat(store.updateKey("missing", k -> k)).isEmpty();
      assertThat(store.updateJob("job-2", j -> j.withLease("lease-2", "acme/a", T0)))
          .get().extracting(JobRecord::leaseId).isEqualTo("lease-2");
      assertThat(store.jobs("")).extracting(JobRecord::id)
          .containsExactly("job-1", "job-2", "job-3");
      assertThat(store.jobs("other")).extracting(JobRecord::id).containsExactly("job-3");
      assertThat(store.workspace(WorkspaceRef.newBuilder().setOrg("acme").setName("new")
          .build()).serial()).isZero();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "database"})
  void logs_onlyTheNextInOrderIsStored_duplicatesAndGapsIgnored(String kind) {
    try (Store store = open(kind)) {
      assertThat(store.appendLogs("job-1", entries(1, 2, 3))).isEqualTo(3);
      assertThat(store.appendLogs("job-1", entries(2, 3, 4))).as("duplicates skipped")
          .isEqualTo(4);
      assertThat(store.appendLogs("job-1", entries(6, 7))).as("a gap is not stored")
          .isEqualTo(4);
      assertThat(store.logCount("job-1")).isEqualTo(4);
      assertThat(store.logCount("job-2")).isZero();
      assertThat(store.logs("job-1", 2, 2)).extracting(LogEntry::getSeq).containsExactly(2L, 3L);
      assertThat(store.logs("job-1", 0, 100)).extracting(LogEntry::getMessage)
          .containsExactly("line 1", "line 2", "line 3", "line 4");
    }
  }

  @Test
  void database_keepsEverything_acrossACloseAndReopen() {
    try (Store store = DatabaseStore.open(tmp)) {
      fill(store);
      store.appendLogs("job-1", entries(1, 2));
    }
    try (Store store = DatabaseStore.open(tmp)) {
      assertFilled(store);
      assertThat(store.logs("job-1", 1, 10)).extracting(LogEntry::getMessage)
          .containsExactly("line 1", "line 2");
    }
  }

  @Test
  void database_aCorruptFile_isRefusedNamingIt() throws Exception {
    Files.write(tmp.resolve(DatabaseStore.FILE + ".mv.db"), new byte[64 * 1024]);
    assertThatThrownBy(() -> DatabaseStore.open(tmp).close())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cannot open the store " + tmp.resolve(DatabaseStore.FILE));
  }

  private static void fill(Store store) {
    assertThat(store.createOrg(Org.newBuilder().setName("acme").build())).isTrue();
    store.createOrg(Org.newBuilder().setName("other").build());
    store.putKey(new KeyRecord("k1", "acme", new byte[] {1, 2, 3}, null,
        Map.of("pool", "gpu"), T0, T0.plusSeconds(3600), null));
    store.putKey(new KeyRecord("k2", "acme", new byte[] {4}, "second", Map.of(), T0, null,
        null));
    store.updateWorkspace(WS, w -> w.withState(PayloadRef.newBuilder()
        .setKind(PayloadKind.PAYLOAD_KIND_STATE).setSize(3).setSha256("abc").build(), 7, "lin")
        .withActiveJob("job-1"));
    for (String[] j : new String[][] {{"job-1", "acme"}, {"job-2", "acme"}, {"job-3", "other"}}) {
      store.putJob(new JobRecord(Job.newBuilder().setId(j[0]).setStatus(JobStatus.JOB_STATUS_QUEUED)
          .setWorkspace(WorkspaceRef.newBuilder().setOrg(j[1]).setName("ws")).build(),
          List.of(Variable.newBuilder().setName("token").setValue("s3cret").setSensitive(true)
              .build()), null, null, null, 0));
    }
    store.updateJob("job-1", j -> j.withLease("lease-1", "acme/agent", T0).withLastLogSeq(2));
    store.putPayload("job/job-1", "state", new byte[] {9, 8, 7});
    store.putIssuedCertificate(new IssuedCertificate("a1", "acme", "agent", "k1", T0,
        T0.plusSeconds(60), T0));
    assertThat(store.revokeCertificate("b2", T0)).isTrue();
    assertThat(store.revokeCertificate("b2", T0)).isFalse();
    store.audit(AuditEvent.newBuilder().setOrg("acme").setKind("one").build());
    store.audit(AuditEvent.newBuilder().setOrg("other").setKind("two").build());
  }

  private static void assertFilled(Store store) {
    assertThat(store.orgs()).extracting(Org::getName).containsExactly("acme", "other");
    KeyRecord k1 = store.key("k1").orElseThrow();
    assertThat(k1.hash()).containsExactly(1, 2, 3);
    assertThat(k1.tags()).isEqualTo(Map.of("pool", "gpu"));
    assertThat(k1.expiresAt()).isEqualTo(T0.plusSeconds(3600));
    assertThat(k1.description()).isNull();
    assertThat(store.keys("acme")).extracting(KeyRecord::id).containsExactly("k1", "k2");
    WorkspaceRecord ws = store.workspace(WS);
    assertThat(ws.serial()).isEqualTo(7);
    assertThat(ws.lineage()).isEqualTo("lin");
    assertThat(ws.activeJobId()).isEqualTo("job-1");
    assertThat(ws.state().getSha256()).isEqualTo("abc");
    JobRecord job = store.job("job-1").orElseThrow();
    assertThat(job.leaseId()).isEqualTo("lease-1");
    assertThat(job.leaseExpiresAt()).isEqualTo(T0);
    assertThat(job.lastLogSeq()).isEqualTo(2);
    assertThat(job.variables()).extracting(Variable::getValue).containsExactly("s3cret");
    assertThat(store.job("job-3").orElseThrow().leaseId()).isNull();
    assertThat(store.payload("job/job-1", "state")).get()
        .satisfies(b -> assertThat(b).containsExactly(9, 8, 7));
    assertThat(store.payload("job/job-1", "missing")).isEmpty();
    assertThat(store.issuedCertificate("a1")).get().extracting(IssuedCertificate::keyId)
        .isEqualTo("k1");
    assertThat(store.certificateRevoked("b2")).isTrue();
    assertThat(store.certificateRevoked("a1")).isFalse();
    assertThat(store.auditEvents("")).extracting(AuditEvent::getKind).containsExactly("one", "two");
    assertThat(store.auditEvents("other")).extracting(AuditEvent::getKind).containsExactly("two");
  }

  private static List<LogEntry> entries(long... seqs) {
    return LongStream.of(seqs).mapToObj(s -> LogEntry.newBuilder().setSeq(s)
        .setMessage("line " + s).build()).toList();
  }

}
