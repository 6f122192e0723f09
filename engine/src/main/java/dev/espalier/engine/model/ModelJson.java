package dev.espalier.engine.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The JSON reader of model files: duplicate keys and trailing content are errors, key order is kept. */
final class ModelJson {
    static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private ModelJson() {}

    static ObjectNode newObject() {
        return JsonNodeFactory.instance.objectNode();
    }

    /** Parses {@code bytes} (read from {@code file}) as one JSON object. */
    static ObjectNode parseObject(Path file, byte[] bytes, String what) {
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (JacksonException e) {
            String at = e.getLocation() == null
                    ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column "
                            + e.getLocation().getColumnNr() + ")";
            throw new ModelFormatException(
                    file, what + " is not valid JSON: " + firstLine(e.getOriginalMessage()) + at, e);
        } catch (IOException e) {
            throw IoFailures.of(file, "read", e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file, what + " is not a JSON object");
        }
        return (ObjectNode) root;
    }

    /** Reads a whole JSON file that must hold one object. */
    static ObjectNode readObject(Path file, String what) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw IoFailures.of(file, "read", e);
        }
        return parseObject(file, bytes, what);
    }

    /** Serialises compactly (no spaces), keys in insertion order. */
    static byte[] toBytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise JSON", e);
        }
    }

    /** Serialises with two-space indentation and a final newline (config files meant for people). */
    static byte[] toPrettyBytes(JsonNode node) {
        try {
            return (MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(node) + "\n")
                    .getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise JSON", e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
