package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import java.util.SequencedSet;

/**
 * The safetensors of a Hugging Face folder: {@code model.safetensors}, or {@code model.safetensors.index.json} whose
 * {@code weight_map} names the shard holding each tensor. Every shard is mapped once into the arena.
 */
final class HfCheckpoint {
    static final String SINGLE = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";

    private final Path source; // model.safetensors or the index: the file errors about the whole checkpoint name
    private final SequencedMap<String, SafetensorsFile> byTensor; // tensor name -> file holding it

    private HfCheckpoint(Path source, SequencedMap<String, SafetensorsFile> byTensor) {
        this.source = source;
        this.byTensor = byTensor;
    }

    /** Opens the single file when present, else the index and its shards. */
    static HfCheckpoint open(Path folder, Arena arena) {
        Path single = folder.resolve(SINGLE);
        Path index = folder.resolve(INDEX);
        SequencedMap<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
        if (Files.isRegularFile(single)) {
            SafetensorsFile file = SafetensorsFile.open(single, arena);
            file.entries().keySet().forEach(name -> byTensor.put(name, file));
            return new HfCheckpoint(single, Collections.unmodifiableSequencedMap(byTensor));
        }
        if (!Files.isRegularFile(index)) {
            throw new ModelFormatException(folder, "has neither " + SINGLE + " nor " + INDEX);
        }
        ObjectNode root = ModelJson.readObject(index, "safetensors index");
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new ModelFormatException(index, "has no weight_map object");
        }
        Path base = folder.toAbsolutePath().normalize();
        Map<Path, SafetensorsFile> shards = new HashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException(
                        index,
                        "weight_map entry of '" + e.getKey() + "' is " + e.getValue() + ", expected a file name");
            }
            Path shardPath = base.resolve(e.getValue().textValue()).normalize();
            if (!shardPath.startsWith(base) || shardPath.equals(base)) {
                throw new ModelFormatException(
                        index,
                        "weight_map entry of '" + e.getKey() + "' points outside the folder: "
                                + e.getValue().textValue());
            }
            SafetensorsFile shard = shards.computeIfAbsent(shardPath, p -> SafetensorsFile.open(p, arena));
            if (!shard.contains(e.getKey())) {
                throw new ModelFormatException(
                        shardPath, "has no tensor '" + e.getKey() + "', which " + INDEX + " places there");
            }
            byTensor.put(e.getKey(), shard);
        }
        return new HfCheckpoint(index, Collections.unmodifiableSequencedMap(byTensor));
    }

    Path source() {
        return source;
    }

    SequencedSet<String> names() {
        return byTensor.sequencedKeySet();
    }

    /** The file holding {@code name}, or null when no file does. */
    SafetensorsFile fileOf(String name) {
        return byTensor.get(name);
    }
}
