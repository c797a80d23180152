package dev.outpost.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FlatJsonTest {
  @Test
  void objects_oneAfterTheOther_withTheirScalarFields_andNestedValuesSkipped() throws IOException {
    // What bwrap writes to --json-status-fd: the info object, then the exit code.
    String status = "{\n  \"child-pid\": 4242,\n  \"cgroup-namespace\": 4026531835,\n"
        + "  \"ns\": {\"pid\": 1},\n  \"list\": [1, [2]]\n}\n{ \"exit-code\": 3 }\n";
    assertThat(FlatJson.objects(status)).containsExactly(
        Map.of("child-pid", 4242L, "cgroup-namespace", 4026531835L), Map.of("exit-code", 3L));
    assertThat(FlatJson.objects("{\"s\":\"x\",\"b\":true,\"d\":1.5,\"n\":null}").get(0))
        .containsEntry("s", "x").containsEntry("b", true).containsEntry("d", 1.5)
        .containsEntry("n", null);
    assertThat(FlatJson.objects("  ")).isEmpty();
  }

  @Test
  void objects_refuseWhatIsNotWholeObjects() {
    assertThatThrownBy(() -> FlatJson.objects("{\"exit-code\": 3")).isInstanceOf(IOException.class);
    assertThatThrownBy(() -> FlatJson.objects("[1]")).isInstanceOf(IOException.class)
        .hasMessageContaining("object");
    assertThatThrownBy(() -> FlatJson.objects("Terraform v1.11.4"))
        .isInstanceOf(IOException.class);
  }
}
