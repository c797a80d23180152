package dev.outpost.stub.cli;

import dev.outpost.stub.pki.Pem;
import dev.outpost.stub.pki.PkiFiles;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Properties;

/**
 * The stub's data directory: {@code pki/} (CA, server certificate, issued client certificates),
 * {@code admin.token} (0600) and {@code endpoints} (the addresses a running server listens on,
 * so admin commands find it).
 */
record DataDir(Path root) {
  PkiFiles pki() {
    return new PkiFiles(root.resolve("pki"));
  }

  Path adminTokenFile() {
    return root.resolve("admin.token");
  }

  Path endpointsFile() {
    return root.resolve("endpoints");
  }

  /** The admin token, created (256 random bits, 0600) on first use. */
  String adminToken() throws IOException {
    Path file = adminTokenFile();
    if (!Files.exists(file)) {
      byte[] random = new byte[32];
      new SecureRandom().nextBytes(random);
      Pem.writeAtomically(file, "oat_" + Base64.getUrlEncoder().withoutPadding()
          .encodeToString(random) + "\n", true);
    }
    return Files.readString(file).trim();
  }

  void writeEndpoints(String agent, String admin) throws IOException {
    Pem.writeAtomically(endpointsFile(), "agent=" + agent + "\nadmin=" + admin + "\n", false);
  }

  String endpoint(String name) throws IOException {
    Properties p = new Properties();
    try {
      p.load(new StringReader(Files.readString(endpointsFile())));
    } catch (NoSuchFileException e) {
      throw new CliException(CliException.Kind.UNREACHABLE, "no running control-plane stub "
          + "found for data directory " + root + " (" + endpointsFile()
          + " is missing; start one with: outpost-controlplane-stub serve --data-dir " + root
          + ")");
    }
    String value = p.getProperty(name);
    if (value == null) {
      throw new CliException(CliException.Kind.CONFIG, endpointsFile() + " has no " + name);
    }
    return value;
  }
}
