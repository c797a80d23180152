package dev.outpost.agent.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's endpoints, on their own plain-HTTP address (loopback by default):
 * {@code /healthz} answers 200 while the process is alive and never looks at the control
 * plane; {@code /readyz} answers 200 when the agent can take jobs, else 503 with the reasons;
 * {@code /metrics} is the Prometheus text exposition. GET and HEAD only; nothing here changes
 * the agent or shows a secret.
 */
public final class OpsServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(OpsServer.class);

  private final HttpServer server;

  private OpsServer(HttpServer server) {
    this.server = server;
  }

  /**
   * Listens on {@code address}.
   *
   * @param notReady why the agent is not ready; empty when it is
   */
  public static OpsServer start(InetSocketAddress address, PrometheusMeterRegistry registry,
      Supplier<List<String>> notReady) {
    HttpServer server;
    try {
      server = HttpServer.create(address, 16);
    } catch (IOException e) {
      throw new ConfigException("--ops-address " + address.getHostString() + ":"
          + address.getPort() + " cannot be listened on: " + e.getMessage() + " (another "
          + "agent on this host? give each its own --ops-address, or none)", e);
    }
    server.createContext("/healthz", exchange -> answer(exchange, 200, "text/plain",
        "ok\n"));
    server.createContext("/readyz", exchange -> {
      List<String> problems = notReady.get();
      answer(exchange, problems.isEmpty() ? 200 : 503, "text/plain",
          problems.isEmpty() ? "ready\n" : String.join("\n", problems) + "\n");
    });
    server.createContext("/metrics", exchange -> answer(exchange, 200,
        "text/plain; version=0.0.4", registry.scrape()));
    server.createContext("/", exchange -> answer(exchange, 404, "text/plain",
        "not found: /healthz, /readyz and /metrics are served here\n"));
    var executor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "ops-http");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.start();
    OpsServer ops = new OpsServer(server);
    log.info("ops endpoints on http://{}:{} (/healthz, /readyz, /metrics)",
        address.getHostString(), ops.port());
    return ops;
  }

  /** The port listened on (the one picked, when the address asked for port 0). */
  public int port() {
    return server.getAddress().getPort();
  }

  private static void answer(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    try (exchange) {
      String method = exchange.getRequestMethod();
      if (!method.equals("GET") && !method.equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        exchange.sendResponseHeaders(405, -1);
        return;
      }
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
      exchange.getResponseHeaders().set("Cache-Control", "no-store");
      if (method.equals("HEAD")) {
        exchange.sendResponseHeaders(status, -1);
        return;
      }
      exchange.sendResponseHeaders(status, bytes.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
