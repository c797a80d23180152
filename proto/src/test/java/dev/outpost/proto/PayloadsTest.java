package dev.outpost.proto;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.proto.v1.PayloadKind;
import dev.outpost.proto.v1.PayloadRef;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PayloadsTest {
  private static final byte[] DATA = "the archive".getBytes(StandardCharsets.UTF_8);
  private static final PayloadRef REF = Payloads.ref(PayloadKind.PAYLOAD_KIND_SOURCE_ARCHIVE, DATA);

  @Test
  void verify_acceptsTheBytesTheReferenceDescribes() {
    assertThatCode(() -> Payloads.verify(REF, DATA.clone())).doesNotThrowAnyException();
  }

  @Test
  void verify_refusesOtherBytes_namingTheKindAndBothDigests() {
    byte[] changed = DATA.clone();
    changed[0] ^= 1;
    assertThatThrownBy(() -> Payloads.verify(REF, changed)).isInstanceOf(IOException.class)
        .hasMessageContaining("PAYLOAD_KIND_SOURCE_ARCHIVE")
        .hasMessageContaining(Payloads.sha256(changed)).hasMessageContaining(REF.getSha256());
    assertThatThrownBy(() -> Payloads.verify(REF, "the archive!".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(IOException.class).hasMessageContaining("12 bytes");
  }
}
