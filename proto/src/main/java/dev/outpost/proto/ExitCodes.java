package dev.outpost.proto;

/**
 * Process exit codes shared by every Outpost command (agent and control-plane stub), so that
 * supervisors and scripts can react without parsing messages. The README's table mirrors this.
 */
public final class ExitCodes {
  /** Success. */
  public static final int OK = 0;
  /** An unexpected internal error (a bug); the message and a stack trace are logged. */
  public static final int INTERNAL = 1;
  /** Invalid command line or configuration: a setting is missing, malformed or unreadable. */
  public static final int CONFIG = 2;
  /**
   * Authentication failed: the org key, the admin token or a certificate was refused, or the TLS
   * handshake failed on trust. Retrying without changing credentials cannot help (systemd's
   * RestartPreventExitStatus names this code).
   */
  public static final int AUTH = 3;
  /** The control plane could not be reached (nothing listening, network down, timeout). */
  public static final int UNREACHABLE = 4;
  /** The requested sandbox does not work on this host; jobs were not run unconfined. */
  public static final int SANDBOX_UNAVAILABLE = 5;
  /** The Terraform binary is missing or its version is not supported. */
  public static final int TERRAFORM_UNAVAILABLE = 6;
  /** A job the command waited for (demo, single-job mode) ended in failure or cancellation. */
  public static final int JOB_FAILED = 7;
  /** The peer speaks an incompatible protocol version. */
  public static final int PROTOCOL_MISMATCH = 8;

  private ExitCodes() {}
}
