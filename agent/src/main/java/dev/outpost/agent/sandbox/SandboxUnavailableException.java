package dev.outpost.agent.sandbox;

/** The sandbox cannot confine anything on this host; the message names the cause. */
public final class SandboxUnavailableException extends Exception {
  private static final long serialVersionUID = 1L;

  public SandboxUnavailableException(String message) {
    super(message);
  }

  public SandboxUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
