package dev.outpost.stub.pki;

import java.io.IOException;
import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.sec.SECObjectIdentifiers;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest;

/**
 * Checks an agent's PKCS#10 certificate signing request before the CA signs it. The control
 * plane decides the certificate's identity itself (from the org key and agent name); the CSR
 * only contributes the public key, so what it asks for is checked to catch a confused or
 * malicious agent early, with a message saying what is wrong.
 */
public final class CertificateRequests {
  private static final Pattern SPIFFE = Pattern.compile("spiffe://([^/]+)/org/([^/]+)/agent/(.+)");
  private static final Map<ASN1ObjectIdentifier, String> CURVES = Map.of(
      SECObjectIdentifiers.secp256r1, "P-256", SECObjectIdentifiers.secp384r1, "P-384");
  private static final int MIN_RSA_BITS = 2048;

  private CertificateRequests() {}

  /**
   * The CSR's public key, once the CSR has proven to be well-formed, signed by that key, with a
   * strong enough key, and asking for no identity other than {@code expectedUri} in {@code org}.
   *
   * @throws IllegalArgumentException naming the problem
   */
  public static PublicKey validate(byte[] der, String org, String expectedUri) {
    if (der.length == 0) {
      throw new IllegalArgumentException("csr_der is empty; send a DER PKCS#10 request");
    }
    JcaPKCS10CertificationRequest csr;
    try {
      csr = new JcaPKCS10CertificationRequest(der);
    } catch (IOException | RuntimeException e) {
      // Bouncy Castle reports truncated or non-ASN.1 input as IOException or as
      // IllegalArgumentException/ClassCastException, depending on where parsing stops.
      throw new IllegalArgumentException("csr_der is not a DER PKCS#10 certificate signing "
          + "request (" + e.getMessage() + ")");
    }
    PublicKey key;
    boolean signed;
    try {
      // JcaPEMKeyConverter maps the key's OID to a JDK algorithm name; Bouncy Castle's JCA
      // helpers otherwise ask the JDK for a KeyFactory by OID, which it lacks for EC.
      key = new JcaPEMKeyConverter().getPublicKey(csr.getSubjectPublicKeyInfo());
      signed = csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(key));
    } catch (IOException | OperatorCreationException | PKCSException | RuntimeException e) {
      throw new IllegalArgumentException("the CSR's public key or signature cannot be read ("
          + e.getMessage() + ")");
    }
    if (!signed) {
      throw new IllegalArgumentException("the CSR's signature does not verify with its own "
          + "public key");
    }
    checkStrength(csr.getSubjectPublicKeyInfo().getAlgorithm(), key);
    checkSubject(csr.getSubject(), org);
    checkRequestedNames(csr, org, expectedUri);
    return key;
  }

  private static void checkStrength(AlgorithmIdentifier algorithm, PublicKey key) {
    ASN1ObjectIdentifier type = algorithm.getAlgorithm();
    if (type.equals(PKCSObjectIdentifiers.rsaEncryption) && key instanceof RSAPublicKey rsa) {
      int bits = rsa.getModulus().bitLength();
      if (bits < MIN_RSA_BITS) {
        throw new IllegalArgumentException("RSA key of " + bits + " bits is too weak; at least "
            + MIN_RSA_BITS);
      }
      return;
    }
    if (type.equals(X9ObjectIdentifiers.id_ecPublicKey)) {
      ASN1Encodable params = algorithm.getParameters();
      if (params instanceof ASN1ObjectIdentifier curve && CURVES.containsKey(curve)) {
        return;
      }
      throw new IllegalArgumentException("EC key on curve " + params + " is not accepted; use "
          + "P-256 or P-384");
    }
    throw new IllegalArgumentException("key type " + key.getAlgorithm() + " is not accepted; use "
        + "EC P-256/P-384 or RSA of at least " + MIN_RSA_BITS + " bits");
  }

  /** An O= in the subject must be the key's org: the certificate's subject is ours anyway. */
  private static void checkSubject(X500Name subject, String org) {
    for (RDN rdn : subject.getRDNs(BCStyle.O)) {
      String value = IETFUtils.valueToString(rdn.getFirst().getValue());
      if (!value.equals(org)) {
        throw new IllegalArgumentException("the CSR asks for the identity of organization "
            + value + " (subject O=" + value + ") but the org key belongs to " + org);
      }
    }
  }

  private static void checkRequestedNames(JcaPKCS10CertificationRequest csr, String org,
      String expectedUri) {
    Extensions extensions = csr.getRequestedExtensions();
    GeneralNames names = extensions == null ? null
        : GeneralNames.fromExtensions(extensions, Extension.subjectAlternativeName);
    if (names == null) {
      return;
    }
    for (GeneralName name : names.getNames()) {
      if (name.getTagNo() != GeneralName.uniformResourceIdentifier) {
        continue;
      }
      String uri = name.getName().toString();
      if (uri.equals(expectedUri) || !uri.startsWith("spiffe://")) {
        continue;
      }
      Matcher m = SPIFFE.matcher(uri);
      if (m.matches() && !m.group(2).equals(org)) {
        throw new IllegalArgumentException("the CSR asks for the identity " + uri + " of "
            + "organization " + m.group(2) + " but the org key belongs to " + org);
      }
      throw new IllegalArgumentException("the CSR asks for the identity " + uri + " but this "
          + "enrollment can only grant " + expectedUri);
    }
  }
}
