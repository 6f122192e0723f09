package dev.espalier.engine.runtime.store;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.TextFormat;
import dev.espalier.protocol.v1.JobSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/** How a {@link JobSpec} is saved (deterministic bytes, so its checksum is stable) and how two specs are told apart. */
final class SpecFiles {

    private SpecFiles() {}

    /** The spec's deterministic serialisation. */
    static byte[] deterministicBytes(JobSpec spec) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        out.useDeterministicSerialization();
        spec.writeTo(out);
        out.flush();
        return bytes.toByteArray();
    }

    /** The first field, in declaration order, in which two specs differ, as "name stored vs expected". */
    static String firstDifference(JobSpec stored, JobSpec expected) {
        for (FieldDescriptor field : JobSpec.getDescriptor().getFields()) {
            if (!only(stored, field).equals(only(expected, field))) {
                return field.getName() + " " + show(stored, field) + " vs " + show(expected, field);
            }
        }
        return "unknown fields";
    }

    private static JobSpec only(JobSpec spec, FieldDescriptor field) {
        JobSpec.Builder builder = JobSpec.newBuilder();
        if (field.isRepeated() || spec.hasField(field)) {
            builder.setField(field, spec.getField(field));
        }
        return builder.build();
    }

    private static String show(JobSpec spec, FieldDescriptor field) {
        Object value = spec.getField(field);
        String text = value instanceof MessageOrBuilder m ? TextFormat.shortDebugString(m) : String.valueOf(value);
        return text.isEmpty() ? "\"\"" : text;
    }
}
