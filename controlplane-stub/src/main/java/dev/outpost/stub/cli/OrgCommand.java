package dev.outpost.stub.cli;

import dev.outpost.proto.v1.CreateOrgRequest;
import dev.outpost.stub.server.AdminClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "org", description = "Manage organizations.", subcommands = OrgCommand.Create.class)
final class OrgCommand {
  @Command(name = "create", description = "Create an organization.")
  static final class Create implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() {
      try (AdminClient client = admin.connect()) {
        client.blocking(10).createOrg(CreateOrgRequest.newBuilder().setName(name).build());
      }
      System.out.println("created org " + name);
      return 0;
    }
  }
}
