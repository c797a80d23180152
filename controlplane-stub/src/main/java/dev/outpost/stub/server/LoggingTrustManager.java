package dev.outpost.stub.server;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JDK's PKIX trust manager over the trusted issuers, unchanged, except that a client
 * certificate it rejects is logged once with the peer and the reason: grpc-netty reports a
 * failed handshake only at java.util.logging FINE, so without this an operator would never
 * see why an agent cannot connect.
 */
final class LoggingTrustManager extends X509ExtendedTrustManager {
  private static final Logger log = LoggerFactory.getLogger(LoggingTrustManager.class);

  private final X509ExtendedTrustManager delegate;

  private LoggingTrustManager(X509ExtendedTrustManager delegate) {
    this.delegate = delegate;
  }

  static TrustManager trusting(List<X509Certificate> issuers) throws GeneralSecurityException {
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    try {
      store.load(null, null);
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    for (int i = 0; i < issuers.size(); i++) {
      store.setCertificateEntry("issuer-" + i, issuers.get(i));
    }
    TrustManagerFactory factory = TrustManagerFactory.getInstance(
        TrustManagerFactory.getDefaultAlgorithm());
    factory.init(store);
    for (TrustManager tm : factory.getTrustManagers()) {
      if (tm instanceof X509ExtendedTrustManager x) {
        return new LoggingTrustManager(x);
      }
    }
    throw new GeneralSecurityException("the JDK offers no X509ExtendedTrustManager");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    try {
      delegate.checkClientTrusted(chain, authType, engine);
    } catch (CertificateException e) {
      // The server-side engine knows no peer address; the certificate identifies the caller.
      log.warn("refused a TLS handshake: client certificate {} (issuer {}, serial {}) "
          + "is not acceptable: {}", chain[0].getSubjectX500Principal(),
          chain[0].getIssuerX500Principal(), chain[0].getSerialNumber().toString(16),
          e.getMessage());
      throw e;
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    delegate.checkClientTrusted(chain, authType, socket);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    delegate.checkClientTrusted(chain, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    delegate.checkServerTrusted(chain, authType, engine);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    delegate.checkServerTrusted(chain, authType, socket);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    delegate.checkServerTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return delegate.getAcceptedIssuers();
  }
}
