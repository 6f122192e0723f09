package dev.espalier.cli.commands;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.protocol.v1.AlpsSettings;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RuntimeSettings;
import dev.espalier.protocol.v1.SparseGptSettings;
import dev.espalier.protocol.v1.StructuredSettings;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * {@code --method-option key=value} read into a spec's typed settings. The keys are the field names of the settings
 * messages the method reads (its family's settings, its solver's — SparseGPT, ALPS — and the runtime settings), so
 * that the protocol is the one list of them; values are parsed by the field's type: integers, numbers, {@code on|off}
 * (also true/false, 1/0) and enum values by their name without the prefix, lower case, '-' for '_'.
 */
final class MethodOptions {
    private MethodOptions() {}

    /** A settings message of the spec and how to reach its builder (which, for a oneof member, selects it). */
    private record Target(Descriptor message, Supplier<Message.Builder> builder) {}

    private static List<Target> targets(JobSpec.Builder spec, PruneMethod method) {
        List<Target> targets = new ArrayList<>();
        JobSpecs.Family family = JobSpecs.familyOf(method);
        if (family != null) {
            switch (family) {
                case UNSTRUCTURED -> {
                    targets.add(new Target(UnstructuredSettings.getDescriptor(), spec::getUnstructuredBuilder));
                    if (method == PruneMethod.PRUNE_METHOD_SPARSEGPT) {
                        targets.add(new Target(
                                SparseGptSettings.getDescriptor(),
                                () -> spec.getUnstructuredBuilder().getSparsegptBuilder()));
                    } else if (method == PruneMethod.PRUNE_METHOD_ALPS) {
                        targets.add(new Target(
                                AlpsSettings.getDescriptor(),
                                () -> spec.getUnstructuredBuilder().getAlpsBuilder()));
                    }
                }
                case STRUCTURED ->
                    targets.add(new Target(StructuredSettings.getDescriptor(), spec::getStructuredBuilder));
                case POLICY_GRADIENT ->
                    targets.add(new Target(PolicyGradientSettings.getDescriptor(), spec::getPolicyGradientBuilder));
            }
        }
        targets.add(new Target(RuntimeSettings.getDescriptor(), spec::getRuntimeBuilder));
        return targets;
    }

    /** The keys {@code method} takes, in the order of the protocol. */
    static List<String> keys(PruneMethod method) {
        List<String> keys = new ArrayList<>();
        for (Target t : targets(JobSpec.newBuilder(), method)) {
            for (FieldDescriptor f : t.message().getFields()) {
                if (f.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
                    keys.add(f.getName());
                }
            }
        }
        return keys;
    }

    /** Sets {@code key} to {@code value} in {@code spec}'s settings for {@code method}; IllegalArgumentException naming the key. */
    static void apply(JobSpec.Builder spec, PruneMethod method, String key, String value) {
        String name = key.trim();
        for (Target t : targets(spec, method)) {
            FieldDescriptor f = t.message().findFieldByName(name);
            if (f != null && f.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
                t.builder().get().setField(f, parse(f, value));
                return;
            }
        }
        throw new IllegalArgumentException("unknown --method-option for " + PruneMethods.label(method) + ": " + name
                + " (it takes " + String.join(", ", keys(method)) + ")");
    }

    private static Object parse(FieldDescriptor f, String value) {
        String v = value.trim();
        String name = "--method-option " + f.getName();
        try {
            return switch (f.getJavaType()) {
                case INT -> Integer.parseInt(v);
                case LONG -> Long.parseLong(v);
                case DOUBLE -> Double.parseDouble(v);
                case FLOAT -> Float.parseFloat(v);
                case BOOLEAN ->
                    switch (v.toLowerCase(Locale.ROOT)) {
                        case "on", "true", "1" -> true;
                        case "off", "false", "0" -> false;
                        default ->
                            throw new IllegalArgumentException(name + " must be on or off, got \"" + value + "\"");
                    };
                case ENUM -> enumValue(f, v, name, value);
                default -> throw new IllegalArgumentException(name + " cannot be set from the command line");
            };
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be "
                    + (f.getJavaType() == FieldDescriptor.JavaType.INT
                                    || f.getJavaType() == FieldDescriptor.JavaType.LONG
                            ? "an integer"
                            : "a number")
                    + ", got \"" + value + "\"");
        }
    }

    private static EnumValueDescriptor enumValue(FieldDescriptor f, String v, String name, String value) {
        List<String> names = new ArrayList<>();
        for (EnumValueDescriptor e : f.getEnumType().getValues()) {
            if (e.getNumber() != 0) {
                String label = enumLabel(e);
                names.add(label);
                if (label.equals(v.toLowerCase(Locale.ROOT).replace('_', '-'))) {
                    return e;
                }
            }
        }
        throw new IllegalArgumentException(
                name + " must be one of " + String.join(", ", names) + ", got \"" + value + "\"");
    }

    /** "masked-dense" for EXPORT_FORM_MASKED_DENSE: the name without the prefix its UNSPECIFIED value shows. */
    static String enumLabel(EnumValueDescriptor e) {
        String prefix = e.getType().findValueByNumber(0).getName().replaceFirst("UNSPECIFIED$", "");
        return e.getName().substring(prefix.length()).toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
