package dev.outpost.agent.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ByteSizeTest {
  @Test
  void bytesAndBinaryUnits_inEveryCommonSpelling() {
    assertThat(ByteSize.parse("1073741824")).isEqualTo(1L << 30);
    assertThat(ByteSize.parse("0")).isZero();
    assertThat(ByteSize.parse("512MiB")).isEqualTo(512L << 20);
    assertThat(ByteSize.parse("1G")).isEqualTo(1L << 30);
    assertThat(ByteSize.parse("10gib")).isEqualTo(10L << 30);
    assertThat(ByteSize.parse("64 KiB")).isEqualTo(64L << 10);
    assertThat(ByteSize.parse("2TB")).isEqualTo(2L << 40);
    assertThat(ByteSize.parse("100B")).isEqualTo(100);
  }

  @Test
  void garbage_negativeAndOverflow_nameTheValue() {
    for (String bad : new String[] {"", "-1", "1.5G", "12XB", "G", "1 GiB extra"}) {
      assertThatThrownBy(() -> ByteSize.parse(bad)).as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'" + bad + "' is not a size");
    }
    assertThatThrownBy(() -> ByteSize.parse("9999999999T")).hasMessageContaining("too large");
    assertThatThrownBy(() -> ByteSize.parse("99999999999999999999"))
        .hasMessageContaining("is not a size");
  }
}
