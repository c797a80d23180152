package dev.outpost.stub.cli;

import dev.outpost.proto.ExitCodes;

/** An expected failure of a command: one line for the user and the documented exit code. */
final class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  enum Kind {
    CONFIG(ExitCodes.CONFIG), AUTH(ExitCodes.AUTH), UNREACHABLE(ExitCodes.UNREACHABLE),
    JOB_FAILED(ExitCodes.JOB_FAILED), INTERNAL(ExitCodes.INTERNAL);

    final int exitCode;

    Kind(int exitCode) {
      this.exitCode = exitCode;
    }
  }

  final Kind kind;

  CliException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }
}
