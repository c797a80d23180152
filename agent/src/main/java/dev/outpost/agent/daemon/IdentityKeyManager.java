package dev.outpost.agent.daemon;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * Presents the agent's current identity in TLS handshakes. The identity can be replaced at any
 * time (renewal, rotated files): new connections use the new one. With no identity (before
 * enrollment) no client certificate is sent, which is what the Enrollment service expects.
 *
 * <p>The certificate is presented whatever issuers the server lists. The JDK's default key
 * manager silently sends none when the issuer is not in the server's list; the server would then
 * only say "no client certificate", hiding the real problem. Presenting it makes the server
 * reject it in the handshake, and the agent reports an untrusted certificate.
 */
final class IdentityKeyManager extends X509ExtendedKeyManager {
  private static final String ALIAS = "agent";

  private final AtomicReference<Identity> identity = new AtomicReference<>();

  void set(Identity next) {
    identity.set(next);
  }

  Identity get() {
    return identity.get();
  }

  private String alias() {
    return identity.get() == null ? null : ALIAS;
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return identity.get() == null ? new String[0] : new String[] {ALIAS};
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return alias();
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    return alias();
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return new String[0];
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return null;
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Identity current = identity.get();
    return ALIAS.equals(alias) && current != null
        ? current.chain().toArray(X509Certificate[]::new) : null;
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Identity current = identity.get();
    return ALIAS.equals(alias) && current != null ? current.key() : null;
  }
}
