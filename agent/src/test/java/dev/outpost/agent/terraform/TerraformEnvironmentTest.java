package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.agent.sandbox.ProcessLeaks;
import dev.outpost.agent.sandbox.Sandbox;
import dev.outpost.agent.sandbox.SandboxSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TerraformEnvironmentTest {
  private static final Map<String, String> AGENT_ENV = Map.of(
      "OUTPOST_ORG_KEY", "opk_secret",
      "AWS_ACCESS_KEY_ID", "AKIA-granted",
      "AWS_SECRET_ACCESS_KEY", "not-granted",
      "HOME", "/root",
      "TF_CLI_CONFIG_FILE", "/root/.terraformrc");

  @TempDir Path jobDir;

  @Test
  void build_forbiddenVariableInSource_neverReachesTheResult() throws Exception {
    Map<String, String> env = TerraformEnvironment.forJob(jobDir)
        .passThrough(List.of("AWS_ACCESS_KEY_ID", "NOT_SET_ANYWHERE"), AGENT_ENV)
        .build();

    assertThat(env).doesNotContainKeys("OUTPOST_ORG_KEY", "AWS_SECRET_ACCESS_KEY", "NOT_SET_ANYWHERE")
        .doesNotContainValue("opk_secret")
        .containsEntry("AWS_ACCESS_KEY_ID", "AKIA-granted")
        .containsEntry("PATH", TerraformEnvironment.SAFE_PATH)
        .containsEntry("HOME", jobDir.resolve(".outpost/home").toString())
        .containsEntry("TMPDIR", jobDir.resolve(".outpost/tmp").toString())
        .containsEntry("LANG", "C.UTF-8")
        .containsEntry("TF_IN_AUTOMATION", "1")
        .containsEntry("TF_INPUT", "0")
        .containsEntry("CHECKPOINT_DISABLE", "1")
        .containsEntry("TF_CLI_CONFIG_FILE", jobDir.resolve(".outpost/terraformrc").toString());
    assertThat(env).hasSize(9);
  }

  @Test
  void build_writesThePrivateHomeAndCliConfig() throws Exception {
    TerraformEnvironment.forJob(jobDir).build();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(jobDir.resolve(".outpost/home"))))
        .isEqualTo("rwx------");
    Path rc = jobDir.resolve(".outpost/terraformrc");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(rc))).isEqualTo("rw-------");
    assertThat(Files.readString(rc)).doesNotContain("provider_installation");
  }

  @Test
  void build_withMirror_writesProviderInstallation() throws Exception {
    TerraformEnvironment.forJob(jobDir).providerMirror(Path.of("/opt/mirror \"x\" ${y}")).build();
    assertThat(Files.readString(jobDir.resolve(".outpost/terraformrc")))
        .contains("provider_installation {\n  filesystem_mirror {\n    path = \"/opt/mirror \\\"x\\\" $${y}\"");
  }

  @Test
  void build_withSeveralMirrors_writesOneBlockEach_inOrder() throws Exception {
    TerraformEnvironment.forJob(jobDir)
        .providerMirrors(List.of(Path.of("/srv/site-mirror"), Path.of("/opt/extra"))).build();
    assertThat(Files.readString(jobDir.resolve(".outpost/terraformrc"))).contains(
        "provider_installation {\n  filesystem_mirror {\n    path = \"/srv/site-mirror\"\n  }\n"
            + "  filesystem_mirror {\n    path = \"/opt/extra\"\n  }\n}\n");
  }

  @Test
  void passThrough_pluginCacheSettings_belongToTheRunner() {
    for (String name : List.of("TF_PLUGIN_CACHE_DIR", "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE")) {
      assertThatThrownBy(() -> TerraformEnvironment.forJob(jobDir).passThrough(List.of(name), AGENT_ENV))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(name);
    }
  }

  @Test
  void passThrough_agentSettingOrOwnedKey_isRefusedByName() {
    assertThatThrownBy(() -> TerraformEnvironment.forJob(jobDir).passThrough(List.of("OUTPOST_ORG_KEY"), AGENT_ENV))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_ORG_KEY");
    assertThatThrownBy(() -> TerraformEnvironment.forJob(jobDir).passThrough(List.of("TF_CLI_CONFIG_FILE"), AGENT_ENV))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("TF_CLI_CONFIG_FILE");
    assertThatThrownBy(() -> TerraformEnvironment.forJob(jobDir).passThrough(List.of("A=B"), AGENT_ENV))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A=B");
  }

  @Test
  void sandboxedChild_seesExactlyTheBuiltEnvironment() throws Exception {
    String marker = ProcessLeaks.newMarker();
    Map<String, String> source = new java.util.HashMap<>(AGENT_ENV);
    source.put(ProcessLeaks.MARKER_VARIABLE, marker);
    Map<String, String> env = TerraformEnvironment.forJob(jobDir)
        .passThrough(List.of("AWS_ACCESS_KEY_ID", ProcessLeaks.MARKER_VARIABLE), source).build();
    Path run = jobDir.resolve(".outpost/run");
    SandboxSpec spec = new SandboxSpec(jobDir, jobDir, List.of("/usr/bin/env"), env, List.of(), false,
        run.resolve("env.stdout"), run.resolve("env.stderr"), run.resolve("env"));

    assertThat(Sandbox.create("bubblewrap", null).start(spec).waitFor(Duration.ofSeconds(20))).contains(0);

    Map<String, String> seen = Files.readAllLines(spec.stdoutFile()).stream()
        .map(l -> l.split("=", 2)).collect(Collectors.toMap(kv -> kv[0], kv -> kv[1]));
    assertThat(seen).isEqualTo(env).doesNotContainKey("OUTPOST_ORG_KEY");
    ProcessLeaks.assertNoneLeft(marker);
  }
}
