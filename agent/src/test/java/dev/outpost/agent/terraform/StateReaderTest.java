package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StateReaderTest {
  private static final String SHOW = """
      {"format_version":"1.0","terraform_version":"1.11.4","values":{
        "outputs":{
          "ids":{"sensitive":false,"value":["a","b"],"type":["list","string"]},
          "password":{"sensitive":true,"value":"hunter2","type":"string"}},
        "root_module":{
          "resources":[{"address":"terraform_data.a","mode":"managed","type":"terraform_data",
            "name":"a","provider_name":"terraform.io/builtin/terraform","values":{}}],
          "child_modules":[{"address":"module.net","resources":[
              {"address":"module.net.terraform_data.b[0]","mode":"managed","type":"terraform_data",
               "name":"b","index":0,"provider_name":"terraform.io/builtin/terraform"}],
            "child_modules":[{"address":"module.net.module.deep","resources":[
              {"address":"module.net.module.deep.data.terraform_remote_state.c","mode":"data",
               "type":"terraform_remote_state","name":"c","provider_name":"terraform.io/builtin/terraform"}]}]}]}}}
      """;

  @Test
  void parseShowJson_outputsAndResourcesOfAllModules() throws IOException {
    TerraformState state = StateReader.parseShowJson(SHOW);

    assertThat(state.outputs()).containsExactly(
        new TerraformOutput("ids", "[\"a\",\"b\"]", false, "[\"list\",\"string\"]"),
        new TerraformOutput("password", "\"hunter2\"", true, "\"string\""));
    assertThat(state.resources()).extracting(TerraformResource::address).containsExactly(
        "terraform_data.a", "module.net.terraform_data.b[0]",
        "module.net.module.deep.data.terraform_remote_state.c");
    assertThat(state.resources().get(2)).isEqualTo(new TerraformResource(
        "module.net.module.deep.data.terraform_remote_state.c", "terraform_remote_state", "c",
        "terraform.io/builtin/terraform", "data"));
  }

  @Test
  void parseShowJson_emptyState_givesEmptyLists() throws IOException {
    TerraformState state = StateReader.parseShowJson("{\"format_version\":\"1.0\"}");
    assertThat(state.outputs()).isEmpty();
    assertThat(state.resources()).isEmpty();
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
