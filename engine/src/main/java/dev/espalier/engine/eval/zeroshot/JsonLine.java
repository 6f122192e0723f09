package dev.espalier.engine.eval.zeroshot;

import com.fasterxml.jackson.databind.JsonNode;
import dev.espalier.engine.data.DataFormatException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** One JSON object of a task file, whose accessors fail naming the file, the line and the field that was wrong. */
public final class JsonLine {
    private final Path file;
    private final int line;
    private final JsonNode node;

    JsonLine(Path file, int line, JsonNode node) {
        this.file = file;
        this.line = line;
        this.node = node;
    }

    public int line() {
        return line;
    }

    public boolean has(String field) {
        return node.has(field);
    }

    /** The string field {@code field}. */
    public String text(String field) {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual()) {
            throw error(
                    value == null
                            ? "missing field \"" + field + "\" (expected a string)"
                            : "field \"" + field + "\" is "
                                    + value.getNodeType().name().toLowerCase(Locale.ROOT) + ", expected a string");
        }
        return value.asText();
    }

    /** The array of at least {@code min} strings {@code field}. */
    public List<String> texts(String field, int min) {
        JsonNode value = node.get(field);
        if (value == null || !value.isArray()) {
            throw error(
                    value == null
                            ? "missing field \"" + field + "\" (expected an array of strings)"
                            : "field \"" + field + "\" is not an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode element : value) {
            if (!element.isTextual()) {
                throw error("field \"" + field + "\" has a "
                        + element.getNodeType().name().toLowerCase(Locale.ROOT) + " element, expected strings only");
            }
            out.add(element.asText());
        }
        if (out.size() < min) {
            throw error("field \"" + field + "\" has " + out.size() + " entries, expected at least " + min);
        }
        return out;
    }

    /** The integer field {@code field}, an index into a list of {@code size}. */
    public int index(String field, int size) {
        JsonNode value = node.get(field);
        if (value != null
                && value.isTextual()
                && value.asText().matches("[0-9]{1,9}")) { // HellaSwag's label is a string on the Hub
            value = com.fasterxml.jackson.databind.node.IntNode.valueOf(Integer.parseInt(value.asText()));
        }
        if (value == null || !value.canConvertToExactIntegral() || !value.canConvertToInt()) {
            throw error(
                    value == null
                            ? "missing field \"" + field + "\" (expected an integer index)"
                            : "field \"" + field + "\" is " + value + ", expected an integer index");
        }
        int index = value.asInt();
        if (index < 0 || index >= size) {
            throw error("field \"" + field + "\" is " + index + ", outside 0.." + (size - 1) + " (the " + size
                    + " choices)");
        }
        return index;
    }

    /** An error about this line: {@code file: line N: problem}. */
    public DataFormatException error(String problem) {
        return new DataFormatException(file, "line " + line + ": " + problem);
    }
}
