package dev.outpost.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.proto.ExitCodes;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where settings come from (flag, then OUTPOST_* variable, then config file, then default), as
 * `config print` shows them, and how a bad value from any of them is reported.
 */
class SettingSourcesTest {
  @TempDir
  Path tmp;

  private Path ca;
  private Path orgKey;

  @BeforeEach
  void files() throws Exception {
    ca = Files.writeString(tmp.resolve("ca.pem"), "not parsed by config print");
    orgKey = Files.writeString(tmp.resolve("org.key"), "opk_test");
  }

  record Result(int exit, String out, String err) {}

  private Result run(Map<String, String> env, String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
      int code = AgentMain.run(env, args);
      return new Result(code, o.toString(StandardCharsets.UTF_8),
          e.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  private String[] print(String... more) {
    List<String> args = new ArrayList<>(List.of("config", "print", "--ca", ca.toString(),
        "--org-key-file", orgKey.toString(), "--state-dir", tmp.resolve("state").toString(),
        "--work-dir", tmp.resolve("work").toString()));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  @Test
  void everySubcommand_answersHelpAndVersion() {
    for (String command : List.of("run", "check", "enroll", "config")) {
      Result help = run(Map.of(), command, "--help");
      assertThat(help.exit()).as(command + " --help: " + help.err()).isZero();
      assertThat(help.out()).as(command).contains("Usage: outpost-agent " + command);
      Result version = run(Map.of(), command, "--version");
      assertThat(version.exit()).as(command + " --version: " + version.err()).isZero();
      assertThat(version.out()).as(command).startsWith("outpost-agent ");
    }
    assertThat(run(Map.of(), "run", "--help").out()).contains("--control-plane");
  }

  @Test
  void flagWinsOverEnvironment_whichWinsOverTheFile_whichWinsOverDefaults() throws Exception {
    Path config = Files.writeString(tmp.resolve("agent.yaml"), """
        control-plane: cp.example.com:443
        max-jobs: 4
        log-level: debug
        tag: {team: platform, tier: "1"}
        """);
    Result r = run(Map.of("OUTPOST_MAX_JOBS", "3", "OUTPOST_LOG_LEVEL", "warn"),
        print("--config", config.toString(), "--max-jobs", "2"));

    assertThat(r.exit()).as(r.err()).isEqualTo(ExitCodes.OK);
    assertThat(r.out()).containsPattern("max-jobs +\\= 2  # flag")
        .containsPattern("log-level +\\= warn  # env OUTPOST_LOG_LEVEL")
        .containsPattern("control-plane +\\= cp.example.com:443  # file " + config)
        .containsPattern("tag +\\= team=platform,tier=1  # file")
        .containsPattern("drain-timeout +\\= PT5M  # default")
        .containsPattern("min-free-disk +\\= 1GiB  # default")
        .contains("# valid");
  }

  @Test
  void toml_isReadToo_listsAndMapsIncluded() throws Exception {
    Path mirror = Files.createDirectories(tmp.resolve("mirror"));
    Path config = Files.writeString(tmp.resolve("agent.toml"), """
        control-plane = "cp.example.com:8443"
        provider-mirror = ["%s"]
        pass-env = ["AWS_REGION", "HTTPS_PROXY"]
        once = true
        """.formatted(mirror));
    Result r = run(Map.of(), print("--config", config.toString()));

    assertThat(r.exit()).as(r.err()).isEqualTo(ExitCodes.OK);
    assertThat(r.out()).containsPattern("control-plane +\\= cp.example.com:8443  # file")
        .containsPattern("provider-mirror +\\= " + mirror + "  # file")
        .containsPattern("pass-env +\\= AWS_REGION,HTTPS_PROXY  # file")
        .containsPattern("once +\\= true  # file");
  }

  @Test
  void anUnknownKeyInTheFile_isNamed() throws Exception {
    Path config = Files.writeString(tmp.resolve("agent.yaml"), "max-job: 2\n");
    Result r = run(Map.of(), print("--config", config.toString()));

    assertThat(r.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(r.err()).contains("unknown setting 'max-job'").contains("max-jobs");
  }

  @Test
  void aFileThatIsNotYaml_saysWhereItBroke() throws Exception {
    Path config = Files.writeString(tmp.resolve("agent.yml"), "control-plane: [unclosed\n");
    Result r = run(Map.of(), print("--config", config.toString()));

    assertThat(r.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(r.err()).contains(config.toString()).contains("is not valid YAML");
  }

  @Test
  void aBadValueFromTheEnvironment_namesTheVariable_theValue_andWhatIsAllowed() {
    Result notANumber = run(Map.of("OUTPOST_CONTROL_PLANE", "cp:443", "OUTPOST_MAX_JOBS", "lots"),
        print());
    assertThat(notANumber.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(notANumber.err()).contains("--max-jobs").contains("'lots'")
        .contains("(from env OUTPOST_MAX_JOBS)");

    Result outOfRange = run(Map.of("OUTPOST_CONTROL_PLANE", "cp:443",
        "OUTPOST_OPS_ADDRESS", "everywhere"), print());
    assertThat(outOfRange.exit()).isEqualTo(ExitCodes.CONFIG);
    assertThat(outOfRange.err()).contains("--ops-address 'everywhere' is invalid")
        .contains("HOST:PORT").contains("none");
  }

  @Test
  void anOrgKeyPastedIntoASetting_isMasked() {
    Result r = run(Map.of("OUTPOST_CONTROL_PLANE", "cp:443"),
        print("--tag", "note=opk_live_8d7f6e5c4b3a"));
    assertThat(r.out()).contains("note=opk_****").doesNotContain("8d7f6e5c4b3a");
  }
}
