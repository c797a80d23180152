package dev.outpost.agent.daemon;

import dev.outpost.agent.ops.ConfigException;
import dev.outpost.proto.ProtocolVersion;
import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * The agent's identity toward the control plane: its client certificate and private key (PEM;
 * PKCS#8, PKCS#1 or SEC1 keys, RSA or EC), the CA it trusts for the server, and its org key.
 */
public final class Credentials {
  private final ChannelCredentials channel;
  private final Path orgKeyFile;
  private final X509Certificate certificate;

  private Credentials(ChannelCredentials channel, Path orgKeyFile, X509Certificate certificate) {
    this.channel = channel;
    this.orgKeyFile = orgKeyFile;
    this.certificate = certificate;
  }

  public static Credentials load(Path caFile, Path certFile, Path keyFile, Path orgKeyFile) {
    List<X509Certificate> chain = readCertificates("--cert", certFile);
    readCertificates("--ca", caFile);
    PrivateKey key = readPrivateKey(keyFile);
    readOrgKey(orgKeyFile);
    if (!matches(key, chain.get(0))) {
      throw new ConfigException("--key " + keyFile + " is not the private key of the certificate "
          + "in --cert " + certFile);
    }
    try {
      ChannelCredentials tls = TlsChannelCredentials.newBuilder()
          .keyManager(new AgentKeyManager(key, chain.toArray(X509Certificate[]::new)))
          .trustManager(caFile.toFile())
          .build();
      return new Credentials(tls, orgKeyFile, chain.get(0));
    } catch (IOException e) {
      throw new ConfigException("--ca " + caFile + " cannot be used: " + e.getMessage(), e);
    }
  }

  public ChannelCredentials channelCredentials() {
    return channel;
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /**
   * Sends the org key and protocol version with every call. The key file is read per call so
   * that a rotated key is picked up without a restart.
   */
  public CallCredentials callCredentials() {
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(ProtocolVersion.HEADER, ProtocolVersion.current());
        try {
          headers.put(ProtocolVersion.AUTHORIZATION, "Bearer " + readOrgKey(orgKeyFile));
        } catch (ConfigException e) {
          applier.fail(Status.UNAUTHENTICATED.withDescription(e.getMessage()));
          return;
        }
        applier.apply(headers);
      }
    };
  }

  /** Signs and verifies a probe, so a mismatched key fails here and not in a handshake. */
  static boolean matches(PrivateKey key, X509Certificate cert) {
    String algorithm = key.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
    try {
      byte[] probe = "outpost-key-check".getBytes(StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(cert.getPublicKey());
      verifier.update(probe);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  static String readOrgKey(Path file) {
    try {
      String key = Files.readString(file, StandardCharsets.UTF_8).trim();
      if (key.isEmpty() || key.contains("\n") || !key.chars().allMatch(c -> c > 32 && c < 127)) {
        throw new ConfigException("--org-key-file " + file
            + " must hold exactly one org key (opk_...) on one line");
      }
      return key;
    } catch (IOException e) {
      throw new ConfigException("--org-key-file " + file + " cannot be read: " + e.getMessage(), e);
    }
  }

  static List<X509Certificate> readCertificates(String option, Path file) {
    List<X509Certificate> certs = new ArrayList<>();
    try (Reader reader = Files.newBufferedReader(file); PEMParser parser = new PEMParser(reader)) {
      JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
      for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
        if (o instanceof X509CertificateHolder holder) {
          certs.add(converter.getCertificate(holder));
        }
      }
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      throw new ConfigException(option + " " + file + " is not a PEM certificate file: "
          + e.getMessage(), e);
    }
    if (certs.isEmpty()) {
      throw new ConfigException(option + " " + file + " contains no PEM certificate");
    }
    return certs;
  }

  static PrivateKey readPrivateKey(Path file) {
    try (Reader reader = Files.newBufferedReader(file); PEMParser parser = new PEMParser(reader)) {
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
        if (o instanceof PEMKeyPair pair) {
          return converter.getPrivateKey(pair.getPrivateKeyInfo());
        }
        if (o instanceof PrivateKeyInfo info) {
          return converter.getPrivateKey(info);
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new ConfigException("--key " + file + " is not a PEM private key: " + e.getMessage(), e);
    }
    throw new ConfigException("--key " + file + " contains no PEM private key (PKCS#8, PKCS#1 or "
        + "SEC1)");
  }
}
