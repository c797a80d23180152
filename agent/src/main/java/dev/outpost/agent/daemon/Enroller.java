package dev.outpost.agent.daemon;

import com.google.protobuf.ByteString;
import dev.outpost.proto.v1.EnrollRequest;
import dev.outpost.proto.v1.EnrollResponse;
import dev.outpost.proto.v1.EnrollmentGrpc;
import java.io.IOException;
import java.io.StringReader;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Obtains a client certificate: generates an EC P-256 key pair on this host (the private key
 * never leaves it), sends a CSR with the org key, and stores key and certificate in the state
 * directory. Renewal is the same call with a fresh key.
 */
public final class Enroller {
  private static final Logger log = LoggerFactory.getLogger(Enroller.class);

  private final ControlPlaneClient client;
  private final Credentials credentials;
  private final IdentitySource.Enrolled store;
  private final String agentName;

  public Enroller(ControlPlaneClient client, Credentials credentials, String agentName) {
    this.client = client;
    this.credentials = credentials;
    this.store = (IdentitySource.Enrolled) credentials.source();
    this.agentName = agentName;
  }

  /** Enrolls and installs the new identity; RPC failures surface as StatusRuntimeException. */
  Identity enroll() throws IOException {
    KeyPair pair = newKeyPair();
    byte[] csr;
    try {
      csr = new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=" + agentName),
          pair.getPublic())
          .build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate()))
          .getEncoded();
    } catch (OperatorCreationException e) {
      throw new IOException("cannot sign the certificate request", e);
    }
    EnrollResponse response = EnrollmentGrpc.newBlockingStub(client.channel())
        .withCallCredentials(credentials.callCredentials())
        .withDeadlineAfter(ControlPlaneClient.CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
        .enroll(EnrollRequest.newBuilder().setCsrDer(ByteString.copyFrom(csr))
            .setAgentName(agentName).build());
    List<X509Certificate> chain = parseChain(response.getCertificateChainPem());
    if (chain.isEmpty() || !chain.get(0).getPublicKey().equals(pair.getPublic())) {
      throw new IOException("the control plane answered the enrollment with a certificate for "
          + "another key");
    }
    store.save(pair.getPrivate(), response.getCertificateChainPem());
    Identity identity = new Identity(pair.getPrivate(), chain, java.time.Instant.now());
    credentials.install(identity);
    log.info("enrolled as {} (certificate serial {}, valid until {})", response.getAgentId(),
        identity.serial(), identity.notAfter());
    return identity;
  }

  /** Enrolls; returns a one-line description of the new certificate for people. */
  public String enrollAndDescribe() throws IOException {
    Identity identity = enroll();
    return "certificate serial " + identity.serial() + ", valid until " + identity.notAfter()
        + ", key and certificate in " + store.dir();
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 is not available", e);
    }
  }

  private static List<X509Certificate> parseChain(String pem) throws IOException {
    List<X509Certificate> chain = new ArrayList<>();
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
      for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
        if (o instanceof X509CertificateHolder holder) {
          chain.add(converter.getCertificate(holder));
        }
      }
    } catch (GeneralSecurityException e) {
      throw new IOException("the enrollment answer holds an invalid certificate", e);
    }
    return chain;
  }
}
