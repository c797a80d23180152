package dev.outpost.stub.pki;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A certificate authority held in memory: issues the control plane's server certificate and the
 * agents' client certificates. Agent identities are URI SANs of the form
 * {@code spiffe://<trust-domain>/org/<org>/agent/<name>}.
 */
public final class CertificateAuthority {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final X509Certificate certificate;
  private final PrivateKey key;

  public CertificateAuthority(X509Certificate certificate, PrivateKey key) {
    this.certificate = certificate;
    this.key = key;
  }

  public static CertificateAuthority create(String commonName, Duration validity) {
    KeyPair pair = newEcKeyPair();
    X500Principal subject = new X500Principal("CN=" + commonName);
    Instant now = Instant.now();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, serial(),
          Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(validity)), subject,
          pair.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true,
              new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false,
              ext.createSubjectKeyIdentifier(pair.getPublic()));
      return new CertificateAuthority(sign(builder, pair.getPrivate()), pair.getPrivate());
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot create CA certificate", e);
    }
  }

  public static CertificateAuthority load(Path certFile, Path keyFile) throws IOException {
    return new CertificateAuthority(Pem.readCertificates(certFile).get(0), Pem.readPrivateKey(keyFile));
  }

  public X509Certificate certificate() {
    return certificate;
  }

  public PrivateKey key() {
    return key;
  }

  /** A TLS server certificate for the given DNS names and IP addresses. */
  public X509Certificate issueServer(PublicKey publicKey, List<String> hosts, Duration validity) {
    List<GeneralName> names = new ArrayList<>();
    for (String host : hosts) {
      names.add(isIpLiteral(host) ? new GeneralName(GeneralName.iPAddress, host)
          : new GeneralName(GeneralName.dNSName, host));
    }
    return issue(publicKey, "CN=" + hosts.get(0), names, KeyPurposeId.id_kp_serverAuth,
        KeyUsage.digitalSignature | KeyUsage.keyEncipherment, validity);
  }

  /** A client certificate binding an agent to its organization. */
  public X509Certificate issueClient(PublicKey publicKey, String trustDomain, String org,
      String agentName, Duration validity) {
    Instant now = Instant.now();
    return issueClient(publicKey, trustDomain, org, agentName, now, now.plus(validity));
  }

  /**
   * A client certificate binding an agent to its organization, valid from {@code start} (minus
   * five minutes of allowance for clock skew between hosts) to {@code notAfter}: the
   * enrollment service passes the control plane's clock.
   */
  public X509Certificate issueClient(PublicKey publicKey, String trustDomain, String org,
      String agentName, Instant start, Instant notAfter) {
    String uri = AgentIdentity.uri(trustDomain, org, agentName);
    return issue(publicKey, "CN=" + agentName + ",O=" + org,
        List.of(new GeneralName(GeneralName.uniformResourceIdentifier, uri)),
        KeyPurposeId.id_kp_clientAuth, KeyUsage.digitalSignature,
        start.minus(Duration.ofMinutes(5)), notAfter);
  }

  private X509Certificate issue(PublicKey publicKey, String subject, List<GeneralName> sans,
      KeyPurposeId purpose, int keyUsage, Duration validity) {
    Instant now = Instant.now();
    return issue(publicKey, subject, sans, purpose, keyUsage, now.minus(Duration.ofMinutes(5)),
        now.plus(validity));
  }

  /**
   * Issues an end-entity certificate exactly as asked: any subject, SANs (none when empty),
   * extended key usage (none when null) and validity window. Public so that tests can make the
   * unusual certificates (expired, not yet valid, without clientAuth) the server must refuse.
   */
  public X509Certificate issue(PublicKey publicKey, String subject, List<GeneralName> sans,
      KeyPurposeId purpose, int keyUsage, Instant notBefore, Instant notAfter) {
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(certificate, serial(),
          Date.from(notBefore), Date.from(notAfter), new X500Principal(subject), publicKey)
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(keyUsage))
          .addExtension(Extension.authorityKeyIdentifier, false,
              ext.createAuthorityKeyIdentifier(certificate))
          .addExtension(Extension.subjectKeyIdentifier, false,
              ext.createSubjectKeyIdentifier(publicKey));
      if (purpose != null) {
        builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
      }
      if (!sans.isEmpty()) {
        builder.addExtension(Extension.subjectAlternativeName, false,
            new GeneralNames(sans.toArray(GeneralName[]::new)));
      }
      return sign(builder, key);
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot issue certificate for " + subject, e);
    }
  }

  public static KeyPair newEcKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 is not available", e);
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey signer)
      throws GeneralSecurityException {
    String algorithm = signer.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
    try {
      return new JcaX509CertificateConverter()
          .getCertificate(builder.build(new JcaContentSignerBuilder(algorithm).build(signer)));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }

  private static BigInteger serial() {
    return new BigInteger(127, RANDOM).add(BigInteger.ONE);
  }

  private static boolean isIpLiteral(String host) {
    if (!host.matches("[0-9.]+|[0-9a-fA-F:]+") || !host.matches(".*[.:].*")) {
      return false;
    }
    try {
      InetAddress.getByName(host);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
