package dev.outpost.agent.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stub's admin commands as the README shows them, run from its jar against a live stub. */
class StubCliIT {
  @TempDir
  Path tmp;

  private StubProcess stub;
  private AgentProcess agent;

  @BeforeEach
  void start() throws IOException {
    stub = StubProcess.start(Files.createDirectories(tmp.resolve("stub")));
    agent = stub.startAgent(tmp, "agent-1", List.of());
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
    stub.close();
    assertThat(Processes.withMarker(tmp.toString())).as("processes left behind").isEmpty();
  }

  private record Result(int code, String out) {}

  private Result cli(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(Jars.java(), "-jar", Jars.stub().toString()));
    command.addAll(List.of(args));
    command.addAll(List.of("--data-dir", stub.dataDir.toString()));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return new Result(p.exitValue(), out);
  }

  private String ok(String... args) throws Exception {
    Result r = cli(args);
    assertThat(r.code()).as(String.join(" ", args) + "\n" + r.out()).isZero();
    return r.out();
  }

  @Test
  void planThenApplyOfThePlan_cancel_keysCertificatesAndAudit() throws Exception {
    String hello = Jars.repoRoot().resolve("examples/hello").toString();
    String plan = ok("job", "submit", hello, "--org", "acme", "--workspace", "hello",
        "--action", "plan", "--sensitive-var", "api_token=t0ken-1234",
        "--terraform-version", "~> 1.11").lines().reduce((a, b) -> b).orElseThrow();
    assertThat(ok("job", "wait", plan)).contains("succeeded");
    assertThat(ok("job", "show", plan)).contains("changes:    2 to add", "plan file:");

    String apply = ok("job", "submit", hello, "--org", "acme", "--workspace", "hello",
        "--action", "apply", "--plan", plan, "--sensitive-var", "api_token=t0ken-1234")
        .lines().reduce((a, b) -> b).orElseThrow();
    assertThat(ok("job", "wait", apply)).contains("succeeded");
    assertThat(ok("job", "show", apply)).contains("api_token = (sensitive)");
    assertThat(ok("job", "show", apply, "--show-sensitive")).contains("api_token = \"t0ken-1234\"");

    String stuck = ok("job", "submit", hello, "--org", "acme", "--workspace", "other",
        "--tag", "pool=none", "--sensitive-var", "api_token=t0ken-1234")
        .lines().reduce((a, b) -> b).orElseThrow();
    assertThat(ok("job", "show", stuck)).contains("pending:", "pool=none");
    assertThat(ok("job", "cancel", stuck)).contains("cancelled");
    Result failed = cli("job", "wait", stuck);
    assertThat(failed.code()).isEqualTo(7);

    String secret = ok("key", "create", "--org", "acme", "--tag", "pool=gpu", "--expires-in",
        "P30D").lines().filter(l -> l.startsWith("opk_")).findFirst().orElseThrow();
    String id = secret.split("_")[1];
    assertThat(ok("key", "list", "--org", "acme")).contains(id, "pool=gpu");
    assertThat(ok("key", "revoke", id)).contains("revoked key " + id);

    String serial = ok("pki", "client", "--org", "acme", "--name", "spare").lines()
        .filter(l -> l.contains("serial")).findFirst().orElseThrow()
        .replaceAll(".*serial ([0-9a-f]+).*", "$1");
    ok("cert", "revoke", serial);
    assertThat(ok("audit")).contains("key.revoked", "cert.revoked", "job.leased",
        "session.opened");
  }
}
