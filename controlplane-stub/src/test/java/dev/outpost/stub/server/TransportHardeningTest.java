package dev.outpost.stub.server;

import static dev.outpost.stub.server.StubFixture.failure;
import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What reaches the TLS port without speaking acceptable TLS is refused by the handshake. */
class TransportHardeningTest {
  @TempDir
  Path dir;
  StubFixture stub;

  @BeforeEach
  void start() throws Exception {
    stub = StubFixture.start(dir);
  }

  @AfterEach
  void stop() throws Exception {
    stub.close();
  }

  @Test
  void garbageBytesOnTheTlsPort_connectionClosed() throws Exception {
    try (Socket socket = new Socket(stub.server.agentAddress().getAddress(),
        stub.server.agentAddress().getPort())) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      out.write("\u0000\u00ffGARBAGE not tls at all\r\n\r\n".repeat(20)
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = socket.getInputStream();
      // The server answers with at most a TLS alert and then closes the connection.
      byte[] buffer = new byte[4096];
      int total = 0;
      try {
        for (int n; (n = in.read(buffer)) != -1; ) {
          total += n;
        }
      } catch (java.net.SocketException reset) {
        // A reset is a close too.
      }
      assertThat(total).isLessThan(64);
    }
    stub.assertOthersStillServed();
  }

  @Test
  void plaintextHttp2OnTheTlsPort_unavailable() throws Exception {
    AgentClient plaintext = stub.track(AgentClient.plaintext(stub.server.agentAddress(),
        stub.acmeKey));
    StatusRuntimeException e = failure(plaintext::heartbeat);
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    stub.assertOthersStillServed();
  }

  @Test
  void tls12Client_refusedByDefault() throws Exception {
    AgentClient old = stub.agent(stub.credential("acme", "old"), stub.acmeKey, "TLSv1.2");
    StatusRuntimeException e = failure(old::heartbeat);
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e).hasRootCauseInstanceOf(SSLException.class);
    stub.assertOthersStillServed();
  }

  @Test
  void tls12Client_acceptedWithTlsMin12() throws Exception {
    try (StubFixture lenient = StubFixture.start(dir.resolve("tls12"), c -> c.withTlsMin("1.2"))) {
      AgentClient old = lenient.agent(lenient.credential("acme", "old"), lenient.acmeKey,
          "TLSv1.2");
      assertThat(old.heartbeat().getLeasesList()).isEmpty();
    }
  }
}
