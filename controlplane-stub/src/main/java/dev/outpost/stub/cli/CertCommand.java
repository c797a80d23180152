package dev.outpost.stub.cli;

import dev.outpost.proto.v1.RevokeCertificateRequest;
import dev.outpost.stub.server.AdminClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "cert", description = "Manage agent client certificates.",
    subcommands = {CertCommand.Revoke.class})
final class CertCommand {
  @Command(name = "revoke", description = "Revoke a client certificate by serial: its sessions "
      + "end within a second and its calls fail.")
  static final class Revoke implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Parameters(paramLabel = "SERIAL", description = "Serial number in hex (as printed by "
        + "enrollment, the audit trail, or openssl x509 -serial).")
    String serial;

    @Override
    public Integer call() {
      try (AdminClient client = admin.connect()) {
        client.blocking(10).revokeCertificate(RevokeCertificateRequest.newBuilder()
            .setSerial(serial).build());
      }
      System.out.println("revoked certificate " + serial);
      return 0;
    }
  }
}
