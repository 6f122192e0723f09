package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;

/** Typed access to the fields of a JSON object read from {@code file}; null and absent fields take the default. */
final class JsonFields {
    private final Path file;
    private final ObjectNode object;
    private final String prefix; // "" at the top level, "rope_scaling." inside it

    JsonFields(Path file, ObjectNode object, String prefix) {
        this.file = file;
        this.object = object;
        this.prefix = prefix;
    }

    Path file() {
        return file;
    }

    /** True when the key exists, even with a null value. */
    boolean present(String name) {
        return object.has(name);
    }

    /** True when the key exists with a non-null value. */
    boolean has(String name) {
        JsonNode n = object.get(name);
        return n != null && !n.isNull();
    }

    JsonNode node(String name) {
        JsonNode n = object.get(name);
        return n == null || n.isNull() ? null : n;
    }

    int requiredInt(String name) {
        if (!has(name)) {
            throw error(prefix + name + " is missing");
        }
        return asInt(name, node(name));
    }

    int optionalInt(String name, int fallback) {
        return has(name) ? asInt(name, node(name)) : fallback;
    }

    double optionalDouble(String name, double fallback) {
        if (!has(name)) {
            return fallback;
        }
        JsonNode n = node(name);
        if (!n.isNumber()) {
            throw error(prefix + name + " is " + n + ", expected a number");
        }
        return n.doubleValue();
    }

    double requiredDouble(String name) {
        if (!has(name)) {
            throw error(prefix + name + " is missing");
        }
        return optionalDouble(name, Double.NaN);
    }

    boolean optionalBoolean(String name, boolean fallback) {
        if (!has(name)) {
            return fallback;
        }
        JsonNode n = node(name);
        if (!n.isBoolean()) {
            throw error(prefix + name + " is " + n + ", expected true or false");
        }
        return n.booleanValue();
    }

    String optionalString(String name, String fallback) {
        if (!has(name)) {
            return fallback;
        }
        JsonNode n = node(name);
        if (!n.isTextual()) {
            throw error(prefix + name + " is " + n + ", expected a string");
        }
        return n.textValue();
    }

    /** An int, or the first element of a list of ints (eos_token_id may be either). */
    int optionalIntOrFirst(String name, int fallback) {
        JsonNode n = node(name);
        if (n == null) {
            return fallback;
        }
        if (n.isArray()) {
            return n.isEmpty() ? fallback : asInt(name + "[0]", n.get(0));
        }
        return asInt(name, n);
    }

    /** An array of exactly {@code length} ints, or null when absent. */
    int[] optionalIntArray(String name, int length) {
        JsonNode n = node(name);
        if (n == null) {
            return null;
        }
        if (!n.isArray() || n.size() != length) {
            throw error(prefix + name + " must be an array of " + length + " integers (one per layer), got " + n);
        }
        int[] out = new int[length];
        for (int i = 0; i < length; i++) {
            out[i] = asInt(name + "[" + i + "]", n.get(i));
        }
        return out;
    }

    ModelFormatException error(String problem) {
        return new ModelFormatException(file, problem);
    }

    private int asInt(String name, JsonNode n) {
        if (n == null || !n.canConvertToExactIntegral() || !n.canConvertToInt()) {
            throw error(prefix + name + " is " + n + ", expected an integer");
        }
        return n.intValue();
    }
}
