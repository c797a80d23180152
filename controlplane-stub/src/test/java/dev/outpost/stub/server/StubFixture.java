package dev.outpost.stub.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.Times;
import dev.outpost.proto.v1.CreateKeyRequest;
import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.stub.pki.CertificateAuthority;
import dev.outpost.stub.pki.PkiFiles;
import dev.outpost.stub.store.MemoryStore;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.assertj.core.api.ThrowableAssert;

/**
 * A real StubServer on 127.0.0.1 port 0 with a PKI made at test time, orgs "acme" and "beta"
 * with a key each, and a well-behaved acme agent that every rejection test uses to show the
 * stub keeps serving others.
 */
final class StubFixture implements AutoCloseable {
  static final String TRUST_DOMAIN = "outpost.local";

  /** A client certificate and its private key. */
  record Credential(PrivateKey key, X509Certificate cert) {}

  final PkiFiles pki;
  final CertificateAuthority ca;
  final TestClock clock = new TestClock();
  final MemoryStore store = new MemoryStore();
  final StubServer server;
  final AdminClient admin;
  final String acmeKey;
  final String betaKey;
  final Credential acmeAgent;
  private final List<AutoCloseable> opened = new ArrayList<>();

  private StubFixture(Path dir, UnaryOperator<StubServer.Config> customize) throws IOException {
    pki = new PkiFiles(dir.resolve("pki"));
    ca = pki.init("Test CA", List.of("localhost", "127.0.0.1"));
    StubServer.Config config = StubServer.Config.of(new InetSocketAddress("127.0.0.1", 0),
        new InetSocketAddress("127.0.0.1", 0), pki, "admin-token",
        ControlPlane.Settings.defaults(), 64 << 20);
    server = StubServer.start(customize.apply(config), store, clock);
    admin = new AdminClient("127.0.0.1:" + server.adminAddress().getPort(), "admin-token");
    for (String org : List.of("acme", "beta")) {
      admin.blocking(10).createOrg(CreateOrgRequest.newBuilder().setName(org).build());
    }
    acmeKey = createKey("acme", null);
    betaKey = createKey("beta", null);
    acmeAgent = credential("acme", "healthy");
  }

  static StubFixture start(Path dir) throws IOException {
    return new StubFixture(dir, c -> c);
  }

  static StubFixture start(Path dir, UnaryOperator<StubServer.Config> customize)
      throws IOException {
    return new StubFixture(dir, customize);
  }

  String createKey(String org, Instant expiresAt) {
    CreateKeyRequest.Builder request = CreateKeyRequest.newBuilder().setOrg(org);
    if (expiresAt != null) {
      request.setExpiresAt(Times.timestamp(expiresAt));
    }
    return admin.blocking(10).createKey(request.build()).getSecret();
  }

  static String keyId(String secret) {
    return secret.split("_")[1];
  }

  /** A certificate as enrollment would issue it, valid for an hour. */
  Credential credential(String org, String name) {
    KeyPair pair = CertificateAuthority.newEcKeyPair();
    return new Credential(pair.getPrivate(),
        ca.issueClient(pair.getPublic(), TRUST_DOMAIN, org, name, Duration.ofHours(1)));
  }

  AgentClient agent(Credential credential, String orgKey, String... protocols)
      throws IOException {
    return track(AgentClient.tls(server.agentAddress(), ca.certificate(),
        credential == null ? null : credential.key(),
        credential == null ? null : credential.cert(), orgKey, protocols));
  }

  AgentClient track(AgentClient client) {
    opened.add(client);
    return client;
  }

  /** A well-behaved agent with valid credentials is still served. */
  void assertOthersStillServed() throws IOException {
    try (AgentClient healthy = AgentClient.tls(server.agentAddress(), ca.certificate(),
        acmeAgent.key(), acmeAgent.cert(), acmeKey)) {
      assertThat(healthy.heartbeat().getLeasesList()).isEmpty();
    }
  }

  static StatusRuntimeException failure(ThrowableAssert.ThrowingCallable call) {
    try {
      call.call();
    } catch (StatusRuntimeException e) {
      return e;
    } catch (Throwable t) {
      throw new AssertionError("expected a gRPC failure, got " + t, t);
    }
    throw new AssertionError("expected a gRPC failure, the call succeeded");
  }

  static void assertStatus(ThrowableAssert.ThrowingCallable call, Status.Code code,
      String messagePart) {
    StatusRuntimeException e = failure(call);
    assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
    assertThat(e.getStatus().getDescription()).contains(messagePart);
  }

  @Override
  public void close() throws Exception {
    for (AutoCloseable c : opened) {
      c.close();
    }
    admin.close();
    server.close();
  }
}
