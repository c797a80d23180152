package dev.outpost.agent.terraform;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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

  @Test
  void readLast_findsTheLastOfThatType_fromTheEnd_acrossBlocksAndLongLines() throws IOException {
    List<String> lines = new ArrayList<>();
    lines.add(summary(1, "first"));
    for (int i = 0; i < 3_000; i++) {
      lines.add("{\"@level\":\"info\",\"@message\":\"p: line " + i
          + "\",\"type\":\"provision_progress\"}");
    }
    // Longer than a block, and the last summary straddles a block boundary somewhere.
    lines.add("{\"@message\":\"" + "x".repeat(3 * TerraformMessage.BACKWARD_BLOCK)
        + "\",\"type\":\"log\"}");
    lines.add(summary(7, "\u00e9t\u00e9 \u2603"));
    // After it: a line that only mentions the type, a line that is not JSON, half a line.
    lines.add("{\"@message\":\"p: \\\"change_summary\\\"\",\"type\":\"provision_progress\"}");
    lines.add("\"change_summary\" but not JSON");
    String text = String.join("\n", lines) + "\n{\"@level\":\"info\",\"type\":\"change_su";
    Path out = Files.writeString(tmp.resolve("03-apply.stdout"), text);

    Optional<TerraformMessage> last = TerraformMessage.readLast(out, "change_summary");

    assertThat(last).get().satisfies(m -> {
      assertThat(m.type()).isEqualTo("change_summary");
      assertThat(m.message()).isEqualTo("Apply complete! 7 été ☃");
    });
    assertThat(TerraformMessage.readLast(out, "log")).get()
        .satisfies(m -> assertThat(m.message()).hasSize(3 * TerraformMessage.BACKWARD_BLOCK));
    assertThat(TerraformMessage.readLast(out, "diagnostic")).isEmpty();
    assertThat(TerraformMessage.readLast(tmp.resolve("missing.stdout"), "diagnostic")).isEmpty();
    // The file's very first line, with no newline after it, is found as well.
    Path one = Files.writeString(tmp.resolve("one.stdout"), summary(2, "only"));
    assertThat(TerraformMessage.readLast(one, "change_summary")).get()
        .satisfies(m -> assertThat(m.message()).isEqualTo("Apply complete! 2 only"));
    assertThat(TerraformMessage.readLast(Files.writeString(tmp.resolve("empty.stdout"), ""),
        "change_summary")).isEmpty();
  }

  private static String summary(int added, String note) {
    return "{\"@level\":\"info\",\"@message\":\"Apply complete! " + added + " " + note
        + "\",\"changes\":{\"add\":" + added + "},\"type\":\"change_summary\"}";
  }
}
