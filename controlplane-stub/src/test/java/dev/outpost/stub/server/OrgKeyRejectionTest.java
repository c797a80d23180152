package dev.outpost.stub.server;

import static dev.outpost.stub.server.StubFixture.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.outpost.proto.ProtocolVersion;
import dev.outpost.proto.v1.RevokeKeyRequest;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Provisioner calls with an org key (or protocol version) the stub must not accept. */
class OrgKeyRejectionTest {
  @TempDir
  Path dir;
  StubFixture stub;
  StubFixture.Credential cert;

  @BeforeEach
  void start() throws Exception {
    stub = StubFixture.start(dir);
    cert = stub.credential("acme", "a1");
  }

  @AfterEach
  void stop() throws Exception {
    stub.close();
  }

  private void revoke(String key) {
    stub.admin.blocking(10).revokeKey(RevokeKeyRequest.newBuilder()
        .setId(StubFixture.keyId(key)).build());
  }

  @Test
  void revokedKey_unauthenticated() throws Exception {
    String key = stub.createKey("acme", null);
    revoke(key);
    assertStatus(stub.agent(cert, key)::heartbeat, Status.Code.UNAUTHENTICATED,
        "org key " + StubFixture.keyId(key) + " was revoked");
    assertThat(stub.store.auditEvents("acme")).anyMatch(e -> e.getKind().equals("key.revoked"))
        .anyMatch(e -> e.getKind().equals("auth.refused") && e.getDetail().contains("revoked"));
    stub.assertOthersStillServed();
  }

  @Test
  void expiredKey_unauthenticated() throws Exception {
    String key = stub.createKey("acme", Instant.now().plus(Duration.ofMinutes(1)));
    stub.clock.shift(Duration.ofMinutes(2));
    assertStatus(stub.agent(cert, key)::heartbeat, Status.Code.UNAUTHENTICATED, "has expired");
    stub.clock.shift(Duration.ZERO);
    stub.assertOthersStillServed();
  }

  @Test
  void malformedKeyString_unauthenticated() throws Exception {
    assertStatus(stub.agent(cert, "opk_not-a-key")::heartbeat, Status.Code.UNAUTHENTICATED,
        "the org key is malformed");
    stub.assertOthersStillServed();
  }

  @Test
  void unknownKey_unauthenticated() throws Exception {
    String forged = "opk_000000000000_" + "A".repeat(43);
    assertStatus(stub.agent(cert, forged)::heartbeat, Status.Code.UNAUTHENTICATED, "is not known");
    stub.assertOthersStillServed();
  }

  @Test
  void incompatibleProtocolVersion_failedPreconditionNamingBothVersions() throws Exception {
    AgentClient future = stub.agent(cert, stub.acmeKey).withVersion("2.0");
    assertStatus(future::heartbeat, Status.Code.FAILED_PRECONDITION, "peer speaks 2.0");
    assertStatus(future::heartbeat, Status.Code.FAILED_PRECONDITION,
        "this side speaks " + ProtocolVersion.current());
    stub.assertOthersStillServed();
  }

  @Test
  void revokeKey_endsOpenConnectStreamWithinOneSecond() throws Exception {
    String key = stub.createKey("acme", null);
    AgentClient.Session session = stub.agent(cert, key).connect("a1", 1);
    await().atMost(Duration.ofSeconds(5)).until(session::welcomed);
    revoke(key);
    await().atMost(Duration.ofSeconds(1)).until(session.ended::isDone);
    Status ended = session.ended.get();
    assertThat(ended.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(ended.getDescription()).isEqualTo("org key " + StubFixture.keyId(key)
        + " was revoked");
    assertThat(session.received).anyMatch(m -> m.hasClosing()
        && m.getClosing().getReason().equals(ended.getDescription()));
    stub.assertOthersStillServed();
  }

  @Test
  void keyExpiring_endsOpenConnectStreamWithinTheExpiryCheck() throws Exception {
    String key = stub.createKey("acme", Instant.now().plus(Duration.ofMinutes(1)));
    AgentClient.Session session = stub.agent(cert, key).connect("a1", 1);
    await().atMost(Duration.ofSeconds(5)).until(session::welcomed);
    stub.clock.shift(Duration.ofMinutes(2));
    // The check runs every second; allow one period plus scheduling slack.
    await().atMost(Duration.ofMillis(2500)).until(session.ended::isDone);
    assertThat(session.ended.get().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(session.ended.get().getDescription()).contains("has expired");
    stub.clock.shift(Duration.ZERO);
    stub.assertOthersStillServed();
  }
}
