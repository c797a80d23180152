package dev.outpost.stub.server;

import dev.outpost.stub.pki.AgentIdentity;
import dev.outpost.stub.pki.IssuerBindings;
import dev.outpost.stub.store.Store;
import io.grpc.Grpc;
import io.grpc.ServerCall;
import io.grpc.Status;
import io.grpc.StatusException;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Decides which agent a client certificate proves, beyond what the TLS handshake checked (the
 * chain to a trusted issuer). Validity is checked again at the control plane's clock because a
 * long-lived connection outlives the handshake; clientAuth usage and revocation by serial are
 * the control plane's own rules.
 */
final class ClientCertificates {
  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  private static final String AGENT_NAME = "[A-Za-z0-9._-]{1,64}";

  /** The agent a certificate names: its organization and name. */
  record Identity(String org, String agentName) {}

  private final Store store;
  private final Clock clock;
  private final String trustDomain;
  private final IssuerBindings bindings;

  ClientCertificates(Store store, Clock clock, String trustDomain, IssuerBindings bindings) {
    this.store = store;
    this.clock = clock;
    this.trustDomain = trustDomain;
    this.bindings = bindings;
  }

  static Optional<X509Certificate> peer(ServerCall<?, ?> call) {
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

  static String serial(X509Certificate cert) {
    return cert.getSerialNumber().toString(16);
  }

  Identity identify(X509Certificate cert) throws StatusException {
    Instant now = clock.instant();
    if (now.isAfter(cert.getNotAfter().toInstant())) {
      throw unauthenticated("the client certificate (serial " + serial(cert) + ") expired at "
          + cert.getNotAfter().toInstant() + "; renew it (outpost-agent enroll)");
    }
    if (now.isBefore(cert.getNotBefore().toInstant())) {
      throw unauthenticated("the client certificate (serial " + serial(cert)
          + ") is not valid before " + cert.getNotBefore().toInstant()
          + "; check the clocks of the agent's host and its CA");
    }
    if (!hasClientAuth(cert)) {
      throw unauthenticated("the client certificate (serial " + serial(cert) + ") lacks the "
          + "clientAuth extended key usage (1.3.6.1.5.5.7.3.2)");
    }
    if (store.certificateRevoked(serial(cert))) {
      throw unauthenticated("certificate " + serial(cert) + " was revoked");
    }
    Optional<String> boundOrg = bindings.orgOf(cert);
    Optional<AgentIdentity> named = AgentIdentity.of(cert);
    if (named.isPresent()) {
      AgentIdentity id = named.get();
      if (!id.trustDomain().equals(trustDomain)) {
        throw unauthenticated("the client certificate names trust domain " + id.trustDomain()
            + " but this control plane is " + trustDomain);
      }
      if (boundOrg.isPresent() && !boundOrg.get().equals(id.org())) {
        throw Status.PERMISSION_DENIED.withDescription("the client certificate names org "
            + id.org() + " but its issuer is bound to org " + boundOrg.get()).asException();
      }
      return new Identity(id.org(), id.agentName());
    }
    if (boundOrg.isEmpty()) {
      throw unauthenticated("certificate names no organization (no URI SAN spiffe://"
          + trustDomain + "/org/<org>/agent/<name>) and its issuer is not bound to one "
          + "organization (serve --issuer-org)");
    }
    String cn = commonName(cert);
    if (cn == null || !cn.matches(AGENT_NAME)) {
      throw unauthenticated("the client certificate's CN '" + cn + "' is not a valid agent name "
          + "(1-64 letters, digits, '.', '_', '-')");
    }
    return new Identity(boundOrg.get(), cn);
  }

  private static boolean hasClientAuth(X509Certificate cert) {
    try {
      List<String> usages = cert.getExtendedKeyUsage();
      return usages != null && usages.contains(CLIENT_AUTH);
    } catch (CertificateParsingException e) {
      return false;
    }
  }

  private static String commonName(X509Certificate cert) {
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          return String.valueOf(rdn.getValue());
        }
      }
    } catch (InvalidNameException e) {
      return null;
    }
    return null;
  }

  private static StatusException unauthenticated(String message) {
    return Status.UNAUTHENTICATED.withDescription(message).asException();
  }
}
