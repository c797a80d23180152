package dev.outpost.stub.pki;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;

/**
 * The file layout of a control plane's PKI directory: {@code ca.pem}/{@code ca.key} (the agent
 * and server CA), {@code server.pem}/{@code server.key}, and client certificates
 * {@code <name>.pem}/{@code <name>.key} issued on request.
 */
public record PkiFiles(Path dir) {
  public Path caCert() {
    return dir.resolve("ca.pem");
  }

  public Path caKey() {
    return dir.resolve("ca.key");
  }

  public Path serverCert() {
    return dir.resolve("server.pem");
  }

  public Path serverKey() {
    return dir.resolve("server.key");
  }

  public Path clientCert(String name) {
    return dir.resolve(name + ".pem");
  }

  public Path clientKey(String name) {
    return dir.resolve(name + ".key");
  }

  public boolean exists() {
    return Files.exists(caCert()) && Files.exists(caKey());
  }

  /** Creates a fresh CA and a server certificate for the given hosts. Refuses to overwrite. */
  public CertificateAuthority init(String caName, List<String> serverHosts) throws IOException {
    if (exists()) {
      throw new IOException("a CA already exists in " + dir + "; remove it first to start over");
    }
    CertificateAuthority ca = CertificateAuthority.create(caName, Duration.ofDays(3650));
    Pem.writeCertificates(caCert(), ca.certificate());
    Pem.writePrivateKey(caKey(), ca.key());
    KeyPair server = CertificateAuthority.newEcKeyPair();
    X509Certificate cert = ca.issueServer(server.getPublic(), serverHosts, Duration.ofDays(365));
    Pem.writeCertificates(serverCert(), cert, ca.certificate());
    Pem.writePrivateKey(serverKey(), server.getPrivate());
    return ca;
  }

  /** Issues a client certificate and key for an agent of {@code org}. */
  public X509Certificate issueClient(String trustDomain, String org, String name, Duration validity)
      throws IOException {
    CertificateAuthority ca = CertificateAuthority.load(caCert(), caKey());
    KeyPair pair = CertificateAuthority.newEcKeyPair();
    X509Certificate cert = ca.issueClient(pair.getPublic(), trustDomain, org, name, validity);
    Pem.writeCertificates(clientCert(name), cert);
    Pem.writePrivateKey(clientKey(name), pair.getPrivate());
    return cert;
  }
}
