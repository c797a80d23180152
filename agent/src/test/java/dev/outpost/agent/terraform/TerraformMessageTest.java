package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TerraformMessageTest {
  @TempDir
  Path tmp;

  @Test
  void readType_findsOnlyThatType_amongAFloodOfOtherLines() throws IOException {
    List<String> lines = new ArrayList<>();
    lines.add("{\"@level\":\"info\",\"@message\":\"Terraform 1.11.4\",\"type\":\"version\"}");
    for (int i = 0; i < 10_000; i++) {
      // A local-exec may print the very words a type is made of: its line is not that type.
      lines.add("{\"@level\":\"info\",\"@message\":\"p: \\\"change_summary\\\" " + i
          + "\",\"type\":\"provision_progress\"}");
    }
    lines.add("not JSON at all, \"change_summary\"");
    lines.add("{\"@level\":\"info\",\"@message\":\"Apply complete! Resources: 1 added, 0 changed,"
        + " 0 destroyed.\",\"changes\":{\"add\":1},\"type\":\"change_summary\"}");
    lines.add("{\"@level\":\"info\",\"@message\":\"half a li");
    Path out = Files.write(tmp.resolve("03-apply.stdout"), lines);

    List<TerraformMessage> found = TerraformMessage.readType(out, "change_summary");

    assertThat(found).singleElement().satisfies(m -> {
      assertThat(m.type()).isEqualTo("change_summary");
      assertThat(m.message()).startsWith("Apply complete!");
    });
    assertThat(TerraformMessage.readType(out, "provision_progress")).hasSize(10_000);
    assertThat(TerraformMessage.readType(tmp.resolve("missing.stdout"), "diagnostic")).isEmpty();
  }
}
