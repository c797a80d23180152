package dev.outpost.stub.cli;

import dev.outpost.stub.server.AdminClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How an admin command finds and authenticates to a running stub. */
final class AdminOptions {
  @Option(names = "--data-dir", defaultValue = "${env:OUTPOST_STUB_DATA_DIR:-outpost-stub-data}",
      description = "The stub's data directory (admin address and token are read from it; "
          + "default: ${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(names = "--admin", description = "Admin address HOST:PORT (default: read from the data "
      + "directory's endpoints file).")
  String admin;

  @Option(names = "--admin-token-file", description = "File holding the admin token (default: "
      + "<data-dir>/admin.token).")
  Path adminTokenFile;

  AdminClient connect() {
    DataDir dir = new DataDir(dataDir);
    try {
      String target = admin != null ? admin : dir.endpoint("admin");
      Path tokenFile = adminTokenFile != null ? adminTokenFile : dir.adminTokenFile();
      String token;
      try {
        token = Files.readString(tokenFile).trim();
      } catch (NoSuchFileException e) {
        throw new CliException(CliException.Kind.CONFIG, "admin token file " + tokenFile
            + " does not exist");
      }
      return new AdminClient(target, token);
    } catch (IOException e) {
      throw new CliException(CliException.Kind.CONFIG, "cannot read " + e.getMessage());
    }
  }

  /** Maps a failed admin call to a one-line error with the documented exit code. */
  static CliException failure(StatusRuntimeException e) {
    Status s = e.getStatus();
    String detail = s.getDescription() != null ? s.getDescription() : s.getCode().toString();
    return switch (s.getCode()) {
      case UNAUTHENTICATED -> new CliException(CliException.Kind.AUTH,
          "the stub refused the admin token: " + detail);
      case UNAVAILABLE, DEADLINE_EXCEEDED -> new CliException(CliException.Kind.UNREACHABLE,
          "cannot reach the stub's admin listener: " + detail);
      case INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION ->
          new CliException(CliException.Kind.CONFIG, detail);
      default -> new CliException(CliException.Kind.INTERNAL, s.getCode() + ": " + detail);
    };
  }
}
