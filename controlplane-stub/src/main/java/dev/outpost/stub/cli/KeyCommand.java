package dev.outpost.stub.cli;

import dev.outpost.proto.Times;
import dev.outpost.proto.v1.CreateKeyRequest;
import dev.outpost.proto.v1.CreateKeyResponse;
import dev.outpost.proto.v1.ListKeysRequest;
import dev.outpost.proto.v1.OrgKey;
import dev.outpost.proto.v1.RevokeKeyRequest;
import dev.outpost.stub.server.AdminClient;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "key", description = "Manage org keys.",
    subcommands = {KeyCommand.Create.class, KeyCommand.List.class, KeyCommand.Revoke.class})
final class KeyCommand {
  @Command(name = "create", description = "Create an org key and print it once on stdout.")
  static final class Create implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Option(names = "--org", required = true)
    String org;

    @Option(names = "--description", defaultValue = "")
    String description;

    @Option(names = "--tag", description = "A tag k=v that agents using this key may claim.")
    Map<String, String> tags = new LinkedHashMap<>();

    @Option(names = "--expires-in", description = "ISO-8601 duration after which the key stops "
        + "working and its sessions end (default: no expiry).")
    Duration expiresIn;

    @Override
    public Integer call() {
      CreateKeyRequest.Builder request = CreateKeyRequest.newBuilder()
          .setOrg(org).setDescription(description).putAllTags(tags);
      if (expiresIn != null) {
        if (expiresIn.isNegative() || expiresIn.isZero()) {
          throw new CliException(CliException.Kind.CONFIG, "--expires-in " + expiresIn
              + " is invalid: it must be positive");
        }
        request.setExpiresAt(Times.timestamp(Instant.now().plus(expiresIn)));
      }
      try (AdminClient client = admin.connect()) {
        CreateKeyResponse r = client.blocking(10).createKey(request.build());
        System.out.println(r.getSecret());
        System.err.println("created key " + r.getKey().getId() + " for org " + org
            + "; the secret above is shown only once");
      }
      return 0;
    }
  }

  @Command(name = "list", description = "List an org's keys (never their secrets).")
  static final class List implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Option(names = "--org", required = true)
    String org;

    @Override
    public Integer call() {
      try (AdminClient client = admin.connect()) {
        for (OrgKey k : client.blocking(10).listKeys(ListKeysRequest.newBuilder().setOrg(org)
            .build()).getKeysList()) {
          System.out.printf("%s  %s  %s  tags=%s%s%n", k.getId(),
              k.getRevoked() ? "revoked" : "active", k.getDescription(), k.getTagsMap(),
              k.hasExpiresAt() ? "  expires=" + Times.instant(k.getExpiresAt()) : "");
        }
      }
      return 0;
    }
  }

  @Command(name = "revoke", description = "Revoke an org key by id.")
  static final class Revoke implements Callable<Integer> {
    @Mixin
    AdminOptions admin = new AdminOptions();

    @Parameters(paramLabel = "KEY_ID")
    String id;

    @Override
    public Integer call() {
      try (AdminClient client = admin.connect()) {
        client.blocking(10).revokeKey(RevokeKeyRequest.newBuilder().setId(id).build());
      }
      System.out.println("revoked key " + id);
      return 0;
    }
  }
}
