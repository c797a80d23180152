package dev.outpost.agent.daemon;

import dev.outpost.agent.ops.ConfigException;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.util.List;
import java.util.Optional;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/** Where the agent's client identity comes from. */
public sealed interface IdentitySource {
  /** The files whose change means the identity should be read again. */
  List<Path> files();

  /** Certificate and key given by the operator (cert-manager, an internal PKI). */
  record OperatorFiles(Path cert, Path key, Path passphrase) implements IdentitySource {
    @Override
    public List<Path> files() {
      return passphrase == null ? List.of(cert, key) : List.of(cert, key, passphrase);
    }

    Identity load() {
      var chain = PemFiles.certificates("--cert", cert);
      PrivateKey privateKey = PemFiles.privateKey("--key", key, passphrase);
      if (!PemFiles.matches(privateKey, chain.get(0))) {
        throw new ConfigException("--key " + key + " is not the private key of the certificate in "
            + "--cert " + cert);
      }
      return new Identity(privateKey, chain);
    }
  }

  /**
   * A key generated on this host and a certificate obtained by enrollment, kept in the state
   * directory ({@code identity/agent.key}, mode 0600, and {@code identity/agent.pem}).
   */
  record Enrolled(Path dir) implements IdentitySource {
    public static Enrolled in(Path stateDir) {
      return new Enrolled(stateDir.resolve("identity"));
    }

    Path certFile() {
      return dir.resolve("agent.pem");
    }

    Path keyFile() {
      return dir.resolve("agent.key");
    }

    @Override
    public List<Path> files() {
      return List.of(certFile(), keyFile());
    }

    Optional<Identity> load() {
      if (!Files.exists(certFile()) || !Files.exists(keyFile())) {
        return Optional.empty();
      }
      var chain = PemFiles.certificates("enrolled certificate", certFile());
      PrivateKey key = PemFiles.privateKey("enrolled key", keyFile(), null);
      if (!PemFiles.matches(key, chain.get(0))) {
        return Optional.empty();
      }
      try {
        // The certificate file is written when the certificate arrives.
        return Optional.of(new Identity(key, chain,
            Files.getLastModifiedTime(certFile()).toInstant()));
      } catch (IOException e) {
        return Optional.of(new Identity(key, chain));
      }
    }

    /** Writes key and certificate; each file is replaced atomically, the key first. */
    void save(PrivateKey key, String chainPem) throws IOException {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      StringWriter out = new StringWriter();
      try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
        writer.writeObject(new JcaPKCS8Generator(key, null));
      }
      write(keyFile(), out.toString());
      write(certFile(), chainPem);
    }

    private static void write(Path file, String content) throws IOException {
      Path tmp = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".tmp",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      try {
        Files.writeString(tmp, content, StandardCharsets.US_ASCII);
        try (var ch = java.nio.channels.FileChannel.open(tmp,
            java.nio.file.StandardOpenOption.WRITE)) {
          ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
  }
}
