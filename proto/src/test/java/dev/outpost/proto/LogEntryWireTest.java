package dev.outpost.proto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FieldOptions;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import dev.outpost.proto.v1.LogEntry;
import dev.outpost.proto.v1.LogLevel;
import dev.outpost.proto.v1.LogProto;
import dev.outpost.proto.v1.LogStream;
import dev.outpost.proto.v1.Stage;
import org.junit.jupiter.api.Test;

/**
 * LogEntry's text fields are declared without UTF-8 validation (log.proto): the same bytes on
 * the wire as proto3's strings, checked by no one but the reader of the text.
 */
class LogEntryWireTest {
  /** A 0xff byte is never part of UTF-8. */
  private static final ByteString NOT_UTF8 =
      ByteString.copyFrom(new byte[] {'l', 'i', 'n', 'e', ' ', (byte) 0xff});

  private static final LogEntry ENTRY = LogEntry.newBuilder().setSeq(7)
      .setStage(Stage.STAGE_APPLY).setStream(LogStream.LOG_STREAM_STDOUT)
      .setLevel(LogLevel.LOG_LEVEL_WARN).setTime(Timestamp.newBuilder().setSeconds(1_800_000_000))
      .setMessage("Warning: grüße ✓").setRaw("{\"@message\":\"Warning: grüße ✓\"}")
      .setResourceAddress("terraform_data.x[\"ä\"]").setAction("create").setType("diagnostic")
      .setLineId(3).setPart(1).setLastPart(true).build();

  @Test
  void bytesThatAreNotUtf8_areCarried_andReadAsTextWithReplacementCharacters()
      throws InvalidProtocolBufferException {
    LogEntry sent = LogEntry.newBuilder().setSeq(1).setRawBytes(NOT_UTF8)
        .setMessageBytes(NOT_UTF8).build();

    LogEntry received = LogEntry.parseFrom(sent.toByteArray());

    assertThat(received.getRawBytes()).isEqualTo(NOT_UTF8);
    assertThat(received.getRaw()).isEqualTo("line \uFFFD");
    assertThat(received.getMessage()).isEqualTo("line \uFFFD");
  }

  @Test
  void aPeerWithTheProto3Declaration_readsOurEntries_andWeReadItsEntries() throws Exception {
    Descriptor proto3 = proto3LogEntry();

    DynamicMessage asProto3 = DynamicMessage.parseFrom(proto3, ENTRY.toByteArray());
    for (FieldDescriptor field : proto3.getFields()) {
      Object value = asProto3.getField(field);
      Object ours = ENTRY.getField(LogEntry.getDescriptor().findFieldByNumber(field.getNumber()));
      if (field.getType() == FieldDescriptor.Type.ENUM) {
        assertThat(((EnumValueDescriptor) value).getNumber()).as(field.getName())
            .isEqualTo(((EnumValueDescriptor) ours).getNumber());
      } else if (field.getType() == FieldDescriptor.Type.MESSAGE) {
        assertThat(((Message) value).toByteString()).as(field.getName())
            .isEqualTo(((Message) ours).toByteString());
      } else {
        assertThat(value).as(field.getName()).isEqualTo(ours);
      }
    }
    assertThat(LogEntry.parseFrom(asProto3.toByteArray())).isEqualTo(ENTRY);
  }

  @Test
  void theProto3Declaration_wouldRefuseTheWholeMessage_forOneBadField() {
    // What the declaration without validation spares a control plane: one stray byte in one
    // line would fail the AppendLogs call carrying it, and every retry of it.
    byte[] wire = LogEntry.newBuilder().setSeq(1).setRawBytes(NOT_UTF8).build().toByteArray();

    assertThatThrownBy(() -> DynamicMessage.parseFrom(proto3LogEntry(), wire))
        .isInstanceOf(InvalidProtocolBufferException.class).hasMessageContaining("UTF-8");
  }

  /** LogEntry as it was declared in proto3, before it moved to log.proto. */
  private static Descriptor proto3LogEntry() throws Exception {
    FileDescriptorProto.Builder file = LogProto.getDescriptor().toProto().toBuilder()
        .setName("outpost/v1/log_proto3.proto").setSyntax("proto3").clearEdition();
    file.getOptionsBuilder().clearFeatures();
    for (var field : file.getMessageTypeBuilder(0).getFieldBuilderList()) {
      FieldOptions.Builder options = field.getOptionsBuilder();
      options.clearFeatures();
      if (options.build().equals(FieldOptions.getDefaultInstance())) {
        field.clearOptions();
      }
    }
    FileDescriptor built = FileDescriptor.buildFrom(file.build(),
        LogProto.getDescriptor().getDependencies().toArray(new FileDescriptor[0]));
    Descriptor entry = built.findMessageTypeByName("LogEntry");
    assertThat(entry.getFile().toProto().getSyntax()).isEqualTo("proto3");
    return entry;
  }
}
