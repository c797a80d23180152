package dev.outpost.stub.server;

import dev.outpost.stub.pki.IssuerBindings;
import dev.outpost.stub.pki.Pem;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import javax.net.ssl.TrustManager;

/** The agent-facing port's TLS settings. */
final class TlsContexts {
  static final Set<String> VERSIONS = Set.of("1.2", "1.3");

  private TlsContexts() {}

  /**
   * TLS 1.3 only unless the operator allows 1.2; client certificates requested but optional
   * (Enrollment shares the port; Provisioner refuses calls without one); trusted issuers are
   * the agent CA plus every CA bound with --issuer-org, so that a certificate from any other
   * issuer fails the handshake itself.
   */
  static SslContext server(StubServer.Config config, IssuerBindings bindings) throws IOException {
    List<X509Certificate> trusted = new ArrayList<>(Pem.readCertificates(config.clientCa()));
    trusted.addAll(bindings.certificates());
    String[] protocols = config.tlsMin().equals("1.2")
        ? new String[] {"TLSv1.3", "TLSv1.2"} : new String[] {"TLSv1.3"};
    TrustManager trust;
    try {
      trust = LoggingTrustManager.trusting(trusted);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot build the trust store of client certificate issuers: " + e, e);
    }
    return GrpcSslContexts.forServer(config.serverCert().toFile(), config.serverKey().toFile())
        .trustManager(trust)
        .clientAuth(ClientAuth.OPTIONAL)
        .protocols(protocols)
        .build();
  }
}
