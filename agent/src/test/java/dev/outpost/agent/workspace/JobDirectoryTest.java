package dev.outpost.agent.workspace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JobDirectoryTest {
  @TempDir Path work;

  @Test
  void create_isPrivate_withTheLayout() throws Exception {
    JobDirectory dir = JobDirectory.create(work, "job-42.a_b");
    assertThat(dir.root()).isEqualTo(work.resolve("job-42.a_b"));
    assertThat(mode(dir.root())).isEqualTo("rwx------");
    assertThat(dir.controlDir()).isEqualTo(dir.root().resolve(".outpost")).isDirectory();
    assertThat(dir.sourceDir()).isEqualTo(dir.root().resolve("source"));
    assertThat(dir.stateFile()).isEqualTo(dir.sourceDir().resolve("terraform.tfstate"));
    assertThatThrownBy(() -> JobDirectory.create(work, "job-42.a_b")).hasMessageContaining("job-42.a_b");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", ".", "..", "../x", "a/b", "-rf", ".hidden", "a b", "a\0b"})
  void create_unsafeJobId_isRefused(String id) {
    assertThatThrownBy(() -> JobDirectory.create(work, id))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("job id");
  }

  @Test
  void writeVariables_privateJsonFile_andRefusesInvalidJson() throws Exception {
    JobDirectory dir = JobDirectory.create(work, "j1");
    Path file = dir.writeVariables(Map.of("region", "\"eu-west-1\"", "count", "3", "tags", "{\"a\":[1,2]}"));

    assertThat(file).isEqualTo(dir.controlDir().resolve("variables.tfvars.json"));
    assertThat(mode(file)).isEqualTo("rw-------");
    assertThat(new ObjectMapper().readTree(file.toFile()))
        .isEqualTo(new ObjectMapper().readTree("{\"count\":3,\"region\":\"eu-west-1\",\"tags\":{\"a\":[1,2]}}"));
    assertThatThrownBy(() -> dir.writeVariables(Map.of("bad", "eu-west-1")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad");
  }

  @Test
  void writePriorState_goesWhereTerraformReadsIt() throws Exception {
    JobDirectory dir = JobDirectory.create(work, "j2");
    dir.writePriorState("{\"serial\":3}".getBytes());
    assertThat(dir.stateFile()).hasContent("{\"serial\":3}");
    assertThat(mode(dir.stateFile())).isEqualTo("rw-------");
  }

  @Test
  void delete_removesTheTree_butNeverFollowsSymlinks() throws Exception {
    Path precious = Files.createDirectories(work.resolve("precious"));
    Files.writeString(precious.resolve("keep"), "x");
    JobDirectory dir = JobDirectory.create(work, "j3");
    Files.createDirectories(dir.sourceDir().resolve("a/b"));
    Files.writeString(dir.sourceDir().resolve("a/b/f"), "x");
    Files.createSymbolicLink(dir.sourceDir().resolve("link-dir"), precious);
    Files.createSymbolicLink(dir.sourceDir().resolve("link-file"), precious.resolve("keep"));

    dir.delete();

    assertThat(dir.root()).doesNotExist();
    assertThat(precious.resolve("keep")).hasContent("x");
  }

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }
}
