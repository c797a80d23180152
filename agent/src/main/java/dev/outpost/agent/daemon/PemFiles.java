package dev.outpost.agent.daemon;

import dev.outpost.agent.ops.ConfigException;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Reads the PEM forms operators have: certificates (a chain in one file), private keys as
 * PKCS#8, PKCS#1 (RSA) or SEC1 (EC), and encrypted PKCS#8 with a passphrase file. Errors name the
 * setting and the file.
 */
final class PemFiles {
  private PemFiles() {}

  /**
   * The Bouncy Castle provider, made only for an encrypted key: constructing it registers
   * every algorithm it has (some 600 classes, a tenth of a second and megabytes of metaspace
   * at each start) while plain keys and certificates need only the JDK's providers.
   */
  private static final class Bc {
    static final BouncyCastleProvider PROVIDER = new BouncyCastleProvider();
  }

  static List<X509Certificate> certificates(String option, Path file) {
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

  /** Reads a private key; {@code passphraseFile} is needed only for an encrypted PKCS#8 key. */
  static PrivateKey privateKey(String option, Path file, Path passphraseFile) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new ConfigException(option + " " + file + " cannot be read: " + e.getMessage(), e);
    }
    try (PEMParser parser = new PEMParser(new StringReader(text))) {
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
        if (o instanceof PEMKeyPair pair) {
          return converter.getPrivateKey(pair.getPrivateKeyInfo());
        }
        if (o instanceof PrivateKeyInfo info) {
          return converter.getPrivateKey(info);
        }
        if (o instanceof PKCS8EncryptedPrivateKeyInfo encrypted) {
          return converter.getPrivateKey(decrypt(option, file, encrypted, passphraseFile));
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(option + " " + file + " is not a PEM private key: " + e.getMessage(),
          e);
    }
    throw new ConfigException(option + " " + file + " contains no PEM private key (PKCS#8, "
        + "PKCS#1 or SEC1)");
  }

  private static PrivateKeyInfo decrypt(String option, Path file,
      PKCS8EncryptedPrivateKeyInfo encrypted, Path passphraseFile) {
    if (passphraseFile == null) {
      throw new ConfigException(option + " " + file + " is encrypted; give its passphrase with "
          + "--key-passphrase-file");
    }
    char[] passphrase;
    try {
      passphrase = Files.readString(passphraseFile, StandardCharsets.UTF_8).strip().toCharArray();
    } catch (IOException e) {
      throw new ConfigException("--key-passphrase-file " + passphraseFile + " cannot be read: "
          + e.getMessage(), e);
    }
    try {
      return encrypted.decryptPrivateKeyInfo(
          new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(Bc.PROVIDER).build(passphrase));
    } catch (OperatorCreationException | PKCSException e) {
      throw new ConfigException(option + " " + file + " cannot be decrypted with the passphrase "
          + "in --key-passphrase-file " + passphraseFile + " (wrong passphrase?)", e);
    } finally {
      java.util.Arrays.fill(passphrase, '\0');
    }
  }

  /** Signs and verifies a probe, so a mismatched key fails at start and not in a handshake. */
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
}
