package dev.outpost.agent.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Certificates made the way operators make them, with the {@code openssl} command, signed by the
 * test's CA: so the agent is proven to load what it did not write itself.
 */
final class Openssl {
  enum KeyForm { RSA_PKCS1, EC_SEC1, EC_PKCS8_ENCRYPTED }

  record Made(Path cert, Path key, Path passphrase) {}

  private Openssl() {}

  static Made clientCertificate(Path dir, TestPki pki, String org, String name, KeyForm form)
      throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path key = dir.resolve(name + ".key");
    Path pass = null;
    switch (form) {
      case RSA_PKCS1 -> run(dir, "openssl", "genrsa", "-traditional", "-out", key.toString(), "2048");
      case EC_SEC1 -> run(dir, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
          "-out", key.toString());
      case EC_PKCS8_ENCRYPTED -> {
        pass = Files.writeString(dir.resolve(name + ".pass"), "correct horse battery\n");
        run(dir, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass", "file:" + pass, "-out",
            key.toString());
      }
    }
    Path csr = dir.resolve(name + ".csr");
    List<String> req = new ArrayList<>(List.of("openssl", "req", "-new", "-key", key.toString(),
        "-subj", "/CN=" + name, "-out", csr.toString()));
    if (pass != null) {
      req.addAll(List.of("-passin", "file:" + pass));
    }
    run(dir, req.toArray(String[]::new));
    Path ext = Files.writeString(dir.resolve(name + ".ext"),
        "subjectAltName=URI:spiffe://" + TestPki.TRUST_DOMAIN + "/org/" + org + "/agent/" + name
            + "\nextendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n");
    Path cert = dir.resolve(name + ".pem");
    run(dir, "openssl", "x509", "-req", "-in", csr.toString(), "-CA", pki.ca().toString(),
        "-CAkey", pki.files().caKey().toString(), "-set_serial",
        "0x" + Long.toHexString(System.nanoTime()), "-days", "1", "-extfile", ext.toString(),
        "-out", cert.toString());
    return new Made(cert, key, pass);
  }

  private static void run(Path dir, String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .start();
    String output = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException(String.join(" ", command) + " failed: " + output);
    }
  }
}
