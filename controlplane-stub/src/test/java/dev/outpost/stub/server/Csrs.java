package dev.outpost.stub.server;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequestBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** PKCS#10 requests as an agent makes them with Bouncy Castle. */
final class Csrs {
  private Csrs() {}

  static KeyPair rsa(int bits) throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(bits);
    return generator.generateKeyPair();
  }

  /** DER of a CSR for {@code subject}, optionally asking for a URI SAN. */
  static byte[] der(KeyPair pair, String subject, String uriSan) throws Exception {
    PKCS10CertificationRequestBuilder builder =
        new JcaPKCS10CertificationRequestBuilder(new X500Principal(subject), pair.getPublic());
    if (uriSan != null) {
      ExtensionsGenerator extensions = new ExtensionsGenerator();
      extensions.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(
          new GeneralName(GeneralName.uniformResourceIdentifier, uriSan)));
      builder.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest,
          extensions.generate());
    }
    String algorithm = pair.getPrivate().getAlgorithm().equals("RSA")
        ? "SHA256withRSA" : "SHA256withECDSA";
    return builder.build(new JcaContentSignerBuilder(algorithm).build(pair.getPrivate()))
        .getEncoded();
  }
}
