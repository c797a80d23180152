package dev.outpost.agent.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on loopback that the test owns, between the agent and the stub, to break the
 * network on purpose: {@link #reset()} drops every connection with a RST, {@link #cut()} also
 * refuses new ones until {@link #restore()}, {@link #stall()} keeps them open but silent. Plain byte forwarding: TLS stays end to end.
 */
final class TcpProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final List<Socket> open = new CopyOnWriteArrayList<>();
  private volatile boolean refusing;
  private volatile boolean stalled;
  private volatile int accepted;

  TcpProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::acceptLoop, "proxy-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return server.getLocalPort();
  }

  /** Connections accepted and forwarded so far. */
  int accepted() {
    return accepted;
  }

  /** Every open connection is reset (RST); new ones are accepted as before. */
  void reset() {
    for (Socket s : open) {
      abort(s);
    }
  }

  /** Resets every connection and refuses new ones until {@link #restore()}. */
  void cut() {
    refusing = true;
    reset();
  }

  /**
   * Connections stay open but carry nothing, in either direction, until {@link #restore()}:
   * a peer that stopped answering without closing anything.
   */
  void stall() {
    stalled = true;
  }

  void restore() {
    refusing = false;
    stalled = false;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        if (refusing) {
          abort(client);
          continue;
        }
        Socket upstream = new Socket();
        upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort),
            5000);
        open.add(client);
        open.add(upstream);
        accepted++;
        pump(client, upstream);
        pump(upstream, client);
      } catch (IOException e) {
        // closed, or the target refused: the client sees its connection end
      }
    }
  }

  private void pump(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buffer = new byte[16 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        for (int n; (n = in.read(buffer)) >= 0; ) {
          while (stalled && !from.isClosed()) {
            Thread.sleep(10);
          }
          out.write(buffer, 0, n);
          out.flush();
        }
      } catch (IOException | InterruptedException e) {
        // reset or closed
      } finally {
        abort(from);
        abort(to);
      }
    }, "proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  private void abort(Socket s) {
    try {
      s.setSoLinger(true, 0); // close with RST, as a broken network would
      s.close();
    } catch (IOException ignored) {
      // already closed
    }
    open.remove(s);
  }

  @Override
  public void close() throws IOException {
    server.close();
    reset();
  }
}
