package dev.outpost.stub.cli;

import dev.outpost.proto.Times;
import dev.outpost.proto.v1.AuditEvent;
import dev.outpost.proto.v1.ListAuditEventsRequest;
import dev.outpost.stub.server.AdminClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "audit", description = "Print the audit trail, oldest first, one event a line: "
    + "time, kind, org, key, agent, job, detail ('-' when empty).")
final class AuditCommand implements Callable<Integer> {
  @Mixin
  AdminOptions admin = new AdminOptions();

  @Option(names = "--org", defaultValue = "", description = "Only this organization's events.")
  String org;

  @Override
  public Integer call() {
    try (AdminClient client = admin.connect()) {
      for (AuditEvent e : client.blocking(10).listAuditEvents(ListAuditEventsRequest.newBuilder()
          .setOrg(org).build()).getEventsList()) {
        System.out.println(line(e));
      }
    }
    return 0;
  }

  static String line(AuditEvent e) {
    return String.join("  ", Times.instant(e.getTime()).toString(), e.getKind(),
        dash(e.getOrg()), dash(e.getKeyId()), dash(e.getAgentId()), dash(e.getJobId()),
        dash(e.getDetail()));
  }

  private static String dash(String s) {
    return s.isEmpty() ? "-" : s;
  }
}
