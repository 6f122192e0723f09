package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.model.SafetensorsFile.Entry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/** The validated JSON header of a safetensors file: its metadata and its tensor entries in header order. */
record SafetensorsHeader(Map<String, String> metadata, SequencedMap<String, Entry> entries) {
    private static final String METADATA_KEY = SafetensorsFile.METADATA_KEY;

    /**
     * Parses the header bytes of {@code file} whose data section holds {@code dataSize} bytes: every tensor needs
     * dtype, shape and data_offsets with 0 &lt;= begin &lt;= end &lt;= dataSize, end - begin = numel x dtype size,
     * and no two tensors may overlap.
     */
    static SafetensorsHeader parse(Path file, byte[] headerBytes, long dataSize) {
        ObjectNode header = ModelJson.parseObject(file, headerBytes, "safetensors header");
        Map<String, String> metadata = Map.of();
        SequencedMap<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, field.getValue());
            } else {
                Entry e = parseEntry(file, field.getKey(), field.getValue(), dataSize);
                entries.put(e.name(), e);
            }
        }
        checkNoOverlap(file, entries.values());
        return new SafetensorsHeader(metadata, Collections.unmodifiableSequencedMap(entries));
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw new ModelFormatException(file, METADATA_KEY + " is not a JSON object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> f : node.properties()) {
            if (!f.getValue().isTextual()) {
                throw new ModelFormatException(file, METADATA_KEY + " value of '" + f.getKey() + "' is not a string");
            }
            out.put(f.getKey(), f.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry parseEntry(Path file, String name, JsonNode node, long dataSize) {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw new ModelFormatException(file, where + " is not a JSON object with dtype, shape and data_offsets");
        }
        JsonNode dtypeNode = node.get("dtype");
        JsonNode shapeNode = node.get("shape");
        JsonNode offsetsNode = node.get("data_offsets");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new ModelFormatException(file, where + " has no dtype string");
        }
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new ModelFormatException(file, where + " has no shape array");
        }
        if (offsetsNode == null || !offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new ModelFormatException(file, where + " has no data_offsets array [begin, end]");
        }
        String dtypeName = dtypeNode.textValue();
        int elementSize = SafetensorsDTypes.byteSize(dtypeName);
        if (elementSize < 0) {
            throw new ModelFormatException(
                    file, where + " has unknown dtype " + dtypeName + " (known: " + SafetensorsDTypes.names() + ")");
        }
        int[] shape = new int[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToExactIntegral() || !d.canConvertToInt() || d.intValue() < 0) {
                throw new ModelFormatException(
                        file, where + " has shape " + shapeNode + " with a dimension that is not an int >= 0");
            }
            shape[i] = d.intValue();
        }
        long begin = offset(file, where, offsetsNode.get(0));
        long end = offset(file, where, offsetsNode.get(1));
        if (begin > end) {
            throw new ModelFormatException(
                    file, where + " has data_offsets [" + begin + ", " + end + "] with begin > end");
        }
        if (end > dataSize) {
            throw new ModelFormatException(
                    file,
                    where + " has data_offsets [" + begin + ", " + end + "] outside the data section of " + dataSize
                            + " bytes");
        }
        long expected;
        try {
            long numel = 1;
            for (int d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
            expected = Math.multiplyExact(numel, elementSize);
        } catch (ArithmeticException overflow) {
            throw new ModelFormatException(
                    file, where + " has shape " + Arrays.toString(shape) + " too large to address");
        }
        if (end - begin != expected) {
            throw new ModelFormatException(
                    file,
                    where + " spans " + (end - begin) + " bytes, but shape " + Arrays.toString(shape) + " of "
                            + dtypeName + " needs " + expected);
        }
        return new Entry(name, dtypeName, shape, begin, end);
    }

    private static long offset(Path file, String where, JsonNode n) {
        if (!n.canConvertToExactIntegral() || !n.canConvertToLong() || n.longValue() < 0) {
            throw new ModelFormatException(file, where + " has data offset " + n + ", expected an integer >= 0");
        }
        return n.longValue();
    }

    private static void checkNoOverlap(Path file, Iterable<Entry> all) {
        List<Entry> sorted = new ArrayList<>();
        all.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1);
            Entry b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new ModelFormatException(
                        file,
                        "tensors '" + a.name() + "' [" + a.begin() + ", " + a.end() + ") and '" + b.name() + "' ["
                                + b.begin() + ", " + b.end() + ") overlap");
            }
        }
    }
}
