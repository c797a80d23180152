package dev.outpost.agent.e2e;

import dev.outpost.stub.pki.PkiFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** A throw-away PKI made at test time with the stub's own CA code (nothing is committed). */
record TestPki(PkiFiles files) {
  static final String TRUST_DOMAIN = "outpost.local";

  static TestPki create(Path dir) throws IOException {
    return create(dir, List.of("localhost", "127.0.0.1"));
  }

  static TestPki create(Path dir, List<String> serverHosts) throws IOException {
    PkiFiles files = new PkiFiles(dir);
    files.init("Test CA " + dir.getFileName(), serverHosts);
    return new TestPki(files);
  }

  record Client(Path cert, Path key) {}

  Client client(String org, String name) throws IOException {
    files.issueClient(TRUST_DOMAIN, org, name, Duration.ofHours(1));
    return new Client(files.clientCert(name), files.clientKey(name));
  }

  Path ca() {
    return files.caCert();
  }
}
