package dev.outpost.stub.server;

import dev.outpost.proto.Times;
import dev.outpost.proto.v1.EnrollRequest;
import dev.outpost.proto.v1.EnrollResponse;
import dev.outpost.proto.v1.EnrollmentGrpc;
import dev.outpost.stub.pki.AgentIdentity;
import dev.outpost.stub.pki.CertificateAuthority;
import dev.outpost.stub.pki.CertificateRequests;
import dev.outpost.stub.pki.Pem;
import dev.outpost.stub.store.IssuedCertificate;
import dev.outpost.stub.store.KeyRecord;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.regex.Pattern;

/**
 * Turns an org key and a CSR into a short-lived client certificate of the key's organization.
 * The identity comes from the key and the requested agent name, never from the CSR: the CSR
 * contributes only its public key (see {@link CertificateRequests}).
 */
final class EnrollmentService extends EnrollmentGrpc.EnrollmentImplBase {
  private static final Pattern AGENT_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private final ControlPlane plane;
  private final CertificateAuthority ca;
  private final Refusals refusals;

  EnrollmentService(ControlPlane plane, CertificateAuthority ca, Refusals refusals) {
    this.plane = plane;
    this.ca = ca;
    this.refusals = refusals;
  }

  @Override
  public void enroll(EnrollRequest request, StreamObserver<EnrollResponse> responses) {
    EnrollmentAuthInterceptor.Caller caller = EnrollmentAuthInterceptor.Caller.KEY.get();
    KeyRecord key = caller.key();
    String trustDomain = plane.settings().trustDomain();
    if (!AGENT_NAME.matcher(request.getAgentName()).matches()) {
      refuse(responses, caller, "agent_name '" + request.getAgentName() + "' is invalid: use "
          + "1-64 letters, digits, '.', '_' and '-'");
      return;
    }
    String uri = AgentIdentity.uri(trustDomain, key.org(), request.getAgentName());
    PublicKey publicKey;
    try {
      publicKey = CertificateRequests.validate(request.getCsrDer().toByteArray(), key.org(), uri);
    } catch (IllegalArgumentException e) {
      refuse(responses, caller, e.getMessage());
      return;
    }
    Instant now = plane.now();
    X509Certificate cert = ca.issueClient(publicKey, trustDomain, key.org(),
        request.getAgentName(), now, now.plus(plane.settings().certLifetime()));
    String serial = ClientCertificates.serial(cert);
    Instant notBefore = cert.getNotBefore().toInstant();
    Instant notAfter = cert.getNotAfter().toInstant();
    plane.store().putIssuedCertificate(new IssuedCertificate(serial, key.org(),
        request.getAgentName(), key.id(), notBefore, notAfter, now));
    Principal principal = new Principal(key.org(), request.getAgentName(), key.id(), serial,
        notAfter);
    plane.audit("agent.enrolled", principal, "", "serial " + serial + ", valid until "
        + notAfter);
    responses.onNext(EnrollResponse.newBuilder()
        .setCertificateChainPem(Pem.encode(cert))
        .setCaBundlePem(Pem.encode(ca.certificate()))
        .setNotBefore(Times.timestamp(notBefore)).setNotAfter(Times.timestamp(notAfter))
        .setAgentId(ControlPlane.agentId(principal)).build());
    responses.onCompleted();
  }

  private void refuse(StreamObserver<EnrollResponse> responses,
      EnrollmentAuthInterceptor.Caller caller, String message) {
    Status status = Status.INVALID_ARGUMENT.withDescription(message);
    refusals.record(EnrollmentGrpc.getEnrollMethod().getFullMethodName(), caller.remote(), status,
        caller.key().org(), caller.key().id());
    responses.onError(status.asException());
  }
}
