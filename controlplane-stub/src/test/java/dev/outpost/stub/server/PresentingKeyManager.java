package dev.outpost.stub.server;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Presents its certificate whatever issuers the server asks for. The JDK's default key manager
 * silently sends no certificate when the server's CertificateRequest does not list its issuer;
 * an attacker (or a misconfigured agent) presents it anyway, which is what the server must
 * withstand.
 */
final class PresentingKeyManager extends X509ExtendedKeyManager {
  private static final String ALIAS = "agent";
  private final PrivateKey key;
  private final X509Certificate[] chain;

  PresentingKeyManager(PrivateKey key, X509Certificate... chain) {
    this.key = key;
    this.chain = chain;
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return ALIAS;
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return ALIAS;
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return new String[] {ALIAS};
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return null;
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    return chain.clone();
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    return key;
  }
}
