package dev.outpost.stub.server;

import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connections refused before any call exists (garbage bytes, plaintext HTTP/2, a failed TLS
 * handshake) never reach the interceptors; grpc-netty reports them only at a fine level of
 * java.util.logging. This forwards those reports, one line per connection, to the stub's log.
 */
final class TransportFailures extends Handler {
  private static final Logger log = LoggerFactory.getLogger(Refusals.class);
  private static final String SOURCE = "io.grpc.netty";
  private static final java.util.logging.Logger NETTY = java.util.logging.Logger.getLogger(SOURCE);

  static void install() {
    synchronized (NETTY) {
      for (Handler h : NETTY.getHandlers()) {
        if (h instanceof TransportFailures) {
          return;
        }
      }
      NETTY.setLevel(Level.FINE);
      NETTY.addHandler(new TransportFailures());
      // Keep grpc's own console handler from printing the same record (and stack traces).
      NETTY.setUseParentHandlers(false);
    }
  }

  @Override
  public void publish(LogRecord record) {
    if (record.getLevel().intValue() < Level.FINE.intValue()
        || !String.valueOf(record.getLoggerName()).matches(
            "io\\.grpc\\.netty\\.(ProtocolNegotiators|NettyServerTransport|NettyServerHandler)")) {
      return;
    }
    Throwable t = record.getThrown();
    String message = String.valueOf(record.getMessage());
    if (t == null && !message.startsWith("TLS negotiation failed")) {
      return;
    }
    String reason = t != null ? describe(t) : "the TLS handshake failed (not TLS at all, "
        + "plaintext HTTP/2, a TLS version below --tls-min, or a client certificate rejected "
        + "as logged just before)";
    log.warn("refused a connection before any call: {}", reason);
  }

  private static String describe(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String text = root.getClass().getSimpleName() + ": " + root.getMessage();
    return text.length() > 300 ? text.substring(0, 300) + "..." : text;
  }

  @Override
  public void flush() {}

  @Override
  public void close() {}
}
