package dev.outpost.agent.daemon;

import dev.outpost.proto.ExitCodes;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Locale;
import javax.net.ssl.SSLException;

/**
 * Classifies RPC failures in one place: what may be retried, and for what is not, the exit code
 * and a message saying what to fix.
 */
public record Failure(Kind kind, String message) {
  public enum Kind {
    /** Network trouble or a server restart: retry with backoff. */
    RETRYABLE(ExitCodes.UNREACHABLE),
    /** Credentials refused (key, certificate, TLS trust): retrying cannot help. */
    AUTH(ExitCodes.AUTH),
    /** The peer speaks an incompatible protocol version. */
    PROTOCOL(ExitCodes.PROTOCOL_MISMATCH),
    /** Not allowed (stale lease, tags the key does not allow, org mismatch). */
    DENIED(ExitCodes.AUTH),
    /** Refused for this request only (bad argument, unknown method). */
    REFUSED(ExitCodes.INTERNAL);

    public final int exitCode;

    Kind(int exitCode) {
      this.exitCode = exitCode;
    }
  }

  public static Failure of(Throwable t) {
    Status status = Status.fromThrowable(t);
    if (status.getCode() != Status.Code.OK) {
      dev.outpost.agent.ops.AgentMetrics.rpcError(status.getCode());
    }
    String description = status.getDescription() == null ? "" : status.getDescription();
    Throwable tls = tlsError(t);
    if (tls != null && isTrustFailure(tls)) {
      return new Failure(Kind.AUTH, tlsMessage(tls));
    }
    return switch (status.getCode()) {
      case UNAUTHENTICATED -> new Failure(Kind.AUTH, "the control plane refused the agent's "
          + "credentials: " + description + " (check --org-key-file, --cert and --key)");
      case FAILED_PRECONDITION -> description.contains("protocol")
          ? new Failure(Kind.PROTOCOL, description)
          : new Failure(Kind.REFUSED, description);
      case PERMISSION_DENIED -> new Failure(Kind.DENIED, description);
      case INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, OUT_OF_RANGE,
          UNIMPLEMENTED -> new Failure(Kind.REFUSED, status.getCode() + ": " + description);
      default -> new Failure(Kind.RETRYABLE, status.getCode() + (description.isEmpty() ? ""
          : ": " + description) + causeText(t));
    };
  }

  /**
   * The TLS error in the chain: the JDK's {@link SSLException}, or an error of Netty's native
   * (BoringSSL) engine, which is not one and names the TLS alert in upper case
   * ({@code ...:SSLV3_ALERT_CERTIFICATE_UNKNOWN}).
   */
  private static Throwable tlsError(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof SSLException || c.getClass().getName().contains("OpenSsl")) {
        return c;
      }
    }
    return null;
  }

  /**
   * Certificate trust problems, as opposed to a connection that broke during the handshake (a
   * restart, a load balancer reset), which is worth a retry.
   */
  private static boolean isTrustFailure(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      String text = String.valueOf(c.getMessage()).toLowerCase(Locale.ROOT);
      if (c instanceof java.security.cert.CertificateException
          || text.contains("pkix") || text.contains("certificate")
          || text.contains("unknown_ca") || text.contains("access_denied")
          || text.contains("no subject alternative") || text.contains("no name matching")
          || text.contains("handshake_failure") || text.contains("protocol_version")) {
        return true;
      }
    }
    return false;
  }

  /**
   * What a failed handshake means, from the most telling message in the cause chain (the
   * native engine's own message is only "General OpenSslEngine problem"), so that it is not
   * taken for an outage.
   */
  private static String tlsMessage(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      String text = String.valueOf(c.getMessage());
      if (text.contains("PKIX") || text.contains("unable to find valid certification path")) {
        return "TLS handshake failed: the control plane's certificate is not issued by the CA "
            + "in --ca (" + text + ")";
      }
      if (text.contains("No subject alternative") || text.contains("No name matching")) {
        return "TLS handshake failed: the control plane's certificate does not match the host "
            + "in --control-plane (" + text + ")";
      }
    }
    Throwable root = e;
    while (root.getCause() != null && root.getCause().getMessage() != null) {
      root = root.getCause();
    }
    return "TLS handshake failed: the control plane rejected the agent's client certificate ("
        + root.getMessage() + "); check that --cert and --key are issued by a CA the control "
        + "plane trusts";
  }

  private static String causeText(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    return root == t || root.getMessage() == null ? "" : " (" + root.getMessage() + ")";
  }

  public static boolean isRetryable(Throwable t) {
    return t instanceof StatusRuntimeException && of(t).kind == Kind.RETRYABLE;
  }
}
