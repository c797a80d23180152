package dev.outpost.agent.workspace;

/** An archive was refused; the message names the entry and the reason. */
public final class ArchiveException extends Exception {
  private static final long serialVersionUID = 1L;

  public ArchiveException(String message) {
    super(message);
  }

  public ArchiveException(String message, Throwable cause) {
    super(message, cause);
  }

  static ArchiveException entry(String name, String reason) {
    return new ArchiveException("archive entry '" + name + "' refused: " + reason);
  }
}
