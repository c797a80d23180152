package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StateReaderTest {
  private static final String STATE = """
      {"version":4,"terraform_version":"1.11.4","serial":3,"lineage":"b1e2",
       "outputs":{
         "ids":{"value":["a","b"],"type":["list","string"]},
         "password":{"value":"hunter2","type":"string","sensitive":true}},
       "resources":[
         {"mode":"managed","type":"terraform_data","name":"a",
          "provider":"provider[\\"terraform.io/builtin/terraform\\"]",
          "instances":[{"schema_version":0,"attributes":{}},
                       {"deposed":"00aa11bb","schema_version":0,"attributes":{}}]},
         {"module":"module.net","mode":"managed","type":"terraform_data","name":"b",
          "provider":"provider[\\"terraform.io/builtin/terraform\\"]",
          "instances":[{"index_key":0,"attributes":{}},{"index_key":1,"attributes":{}}]},
         {"module":"module.net[\\"x\\"].module.deep","mode":"data","type":"terraform_remote_state",
          "name":"c","provider":"provider[\\"terraform.io/builtin/terraform\\"].other",
          "instances":[{"index_key":"say \\"${hi}\\"\\n","attributes":{}}]}]}
      """;

  @Test
  void parseStateFile_outputsAndResourceInstancesOfAllModules_asShowJsonAddressesThem()
      throws IOException {
    TerraformState state = StateReader.parseStateFile(STATE.getBytes(StandardCharsets.UTF_8));

    assertThat(state.outputs()).containsExactly(
        new TerraformOutput("ids", "[\"a\",\"b\"]", false, "[\"list\",\"string\"]"),
        new TerraformOutput("password", "\"hunter2\"", true, "\"string\""));
    assertThat(state.resources()).extracting(TerraformResource::address).containsExactly(
        "terraform_data.a", "module.net.terraform_data.b[0]", "module.net.terraform_data.b[1]",
        "module.net[\"x\"].module.deep.data.terraform_remote_state.c[\"say \\\"$${hi}\\\"\\n\"]");
    assertThat(state.resources().get(3)).extracting(TerraformResource::type,
        TerraformResource::name, TerraformResource::provider, TerraformResource::mode)
        .containsExactly("terraform_remote_state", "c", "terraform.io/builtin/terraform", "data");
  }

  @Test
  void parseStateFile_emptyState_givesEmptyLists() throws IOException {
    TerraformState state = StateReader.parseStateFile(
        "{\"version\":4,\"serial\":1,\"lineage\":\"x\",\"outputs\":{},\"resources\":[]}"
            .getBytes(StandardCharsets.UTF_8));
    assertThat(state.outputs()).isEmpty();
    assertThat(state.resources()).isEmpty();
  }

  @Test
  void parseStateFile_namesWhatIsWrong_withAnOtherFormatOrNoJson() {
    assertThatThrownBy(() -> StateReader.parseStateFile("{\"version\":3}".getBytes(
        StandardCharsets.UTF_8))).isInstanceOf(IOException.class)
        .hasMessageContaining("format version 3");
    assertThatThrownBy(() -> StateReader.parseStateFile("{\"version\":".getBytes(
        StandardCharsets.UTF_8))).isInstanceOf(IOException.class)
        .hasMessageContaining("not valid JSON");
    assertThatThrownBy(() -> StateReader.parseStateFile("[4]".getBytes(
        StandardCharsets.UTF_8))).isInstanceOf(IOException.class)
        .hasMessageContaining("not a JSON object");
  }

  @Test
  void identity_readsSerialAndLineage_andTreatsAZeroByteFileAsNoState() throws IOException {
    byte[] state = "{\"version\":4,\"serial\":7,\"lineage\":\"b1e2\",\"resources\":[]}"
        .getBytes(StandardCharsets.UTF_8);
    assertThat(StateReader.identity(state)).contains(new StateIdentity(7, "b1e2"));
    assertThat(StateReader.identity(new byte[0])).isEmpty();
    assertThatThrownBy(() -> StateReader.identity("{}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(IOException.class);
  }
}
