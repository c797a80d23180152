package dev.outpost.stub.server;

import dev.outpost.proto.ProtocolVersion;
import dev.outpost.stub.auth.OrgKeySecret;
import dev.outpost.stub.pki.AgentIdentity;
import dev.outpost.stub.store.KeyRecord;
import dev.outpost.stub.store.Store;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Authenticates every Provisioner call: protocol version, a client certificate chaining to the
 * agent CA (the TLS handshake already checked the chain and validity; the certificate is only
 * requested there, so its absence is refused here), an org key, and the same organization on
 * both.
 */
final class AgentAuthInterceptor implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(AgentAuthInterceptor.class);

  private final Store store;
  private final Clock clock;
  private final String trustDomain;

  AgentAuthInterceptor(Store store, Clock clock, String trustDomain) {
    this.store = store;
    this.clock = clock;
    this.trustDomain = trustDomain;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    String incompatibility = ProtocolVersion.incompatibility(headers.get(ProtocolVersion.HEADER));
    if (incompatibility != null) {
      return refuse(call, Status.FAILED_PRECONDITION.withDescription(incompatibility), method);
    }
    Optional<X509Certificate> cert = peerCertificate(call);
    if (cert.isEmpty()) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(
          "a client certificate is required for the Provisioner service; enroll the agent or "
              + "configure --cert and --key"), method);
    }
    Optional<AgentIdentity> identity = AgentIdentity.of(cert.get())
        .filter(id -> id.trustDomain().equals(trustDomain));
    if (identity.isEmpty()) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(
          "the client certificate names no agent of trust domain " + trustDomain
              + " (expected a URI SAN spiffe://" + trustDomain + "/org/<org>/agent/<name>)"),
          method);
    }
    String bearer = BearerTokens.from(headers);
    Optional<OrgKeySecret> presented = OrgKeySecret.parse(bearer);
    if (presented.isEmpty()) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(bearer == null
          ? "no org key presented (authorization: Bearer opk_...)"
          : "the org key is malformed (expected opk_<id>_<secret>)"), method);
    }
    Optional<KeyRecord> key = store.key(presented.get().id())
        .filter(k -> presented.get().matches(k.hash()));
    if (key.isEmpty()) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(
          "the org key " + presented.get() + " is not known"), method);
    }
    if (!key.get().usableAt(clock.instant())) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription("the org key " + presented.get()
          + (key.get().revokedAt() != null ? " was revoked" : " has expired")), method);
    }
    if (!key.get().org().equals(identity.get().org())) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription("the client certificate belongs "
          + "to org " + identity.get().org() + " but the org key to org " + key.get().org()),
          method);
    }
    Principal principal = new Principal(key.get().org(), identity.get().agentName(),
        key.get().id(), cert.get().getSerialNumber().toString(16));
    return Contexts.interceptCall(Context.current().withValue(Principal.KEY, principal), call,
        headers, next);
  }

  private static Optional<X509Certificate> peerCertificate(ServerCall<?, ?> call) {
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return Optional.empty();
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x
          ? Optional.of(x) : Optional.empty();
    } catch (SSLPeerUnverifiedException e) {
      return Optional.empty();
    }
  }

  static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status, String method) {
    log.warn("refused {} from {}: {} {}", method,
        call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), status.getCode(),
        status.getDescription());
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
