package dev.outpost.stub.server;

import dev.outpost.proto.ProtocolVersion;
import dev.outpost.stub.store.KeyRecord;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusException;
import java.security.cert.X509Certificate;
import java.util.Optional;

/**
 * Authenticates every Provisioner call: protocol version, a client certificate (only requested
 * by the handshake, so its absence is refused here) that proves an agent of some organization,
 * an org key, and the same organization on both.
 */
final class AgentAuthInterceptor implements ServerInterceptor {
  private final ClientCertificates certificates;
  private final OrgKeys keys;
  private final Refusals refusals;

  AgentAuthInterceptor(ClientCertificates certificates, OrgKeys keys, Refusals refusals) {
    this.certificates = certificates;
    this.keys = keys;
    this.refusals = refusals;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String keyId = OrgKeys.presentedId(headers);
    String incompatibility = ProtocolVersion.incompatibility(headers.get(ProtocolVersion.HEADER));
    if (incompatibility != null) {
      return refusals.refuse(call, Status.FAILED_PRECONDITION.withDescription(incompatibility),
          "", keyId);
    }
    Optional<X509Certificate> cert = ClientCertificates.peer(call);
    if (cert.isEmpty()) {
      return refusals.refuse(call, Status.UNAUTHENTICATED.withDescription(
          "a client certificate is required for the Provisioner service: enroll the agent or "
              + "configure --cert and --key (TLS clients do not send a certificate whose issuer "
              + "the control plane does not trust; see serve --issuer-org)"), "", keyId);
    }
    ClientCertificates.Identity identity;
    try {
      identity = certificates.identify(cert.get());
    } catch (StatusException e) {
      return refusals.refuse(call, e.getStatus(), "", keyId);
    }
    KeyRecord key;
    try {
      key = keys.authenticate(headers);
    } catch (StatusException e) {
      return refusals.refuse(call, e.getStatus(), identity.org(), keyId);
    }
    if (!key.org().equals(identity.org())) {
      return refusals.refuse(call, Status.PERMISSION_DENIED.withDescription("the client "
          + "certificate belongs to org " + identity.org() + " but the org key " + key.id()
          + " to org " + key.org()), key.org(), key.id());
    }
    Principal principal = new Principal(key.org(), identity.agentName(), key.id(),
        ClientCertificates.serial(cert.get()), cert.get().getNotAfter().toInstant());
    return Contexts.interceptCall(Context.current().withValue(Principal.KEY, principal), call,
        headers, next);
  }
}
