package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Reads and writes the rope_scaling (or transformers 5 rope_parameters) object; only "llama3" and "default" exist here. */
final class HfRopeScaling {
    private HfRopeScaling() {}

    /** The llama3 scaling of a config, or null for none (absent, null, or rope_type "default"). */
    static LlamaConfig.RopeScaling parse(JsonFields config) {
        JsonNode node = config.node("rope_scaling");
        String where = "rope_scaling";
        if (node == null) {
            node = config.node("rope_parameters");
            where = "rope_parameters";
        }
        if (node == null) {
            return null;
        }
        if (!node.isObject()) {
            throw config.error(where + " is " + node + ", expected an object or null");
        }
        JsonFields f = new JsonFields(config.file(), (ObjectNode) node, where + ".");
        String type = f.optionalString("rope_type", f.optionalString("type", "default"));
        return switch (type) {
            case "default" -> null;
            case "llama3" -> new LlamaConfig.RopeScaling(
                    f.requiredDouble("factor"),
                    f.requiredDouble("low_freq_factor"),
                    f.requiredDouble("high_freq_factor"),
                    f.requiredInt("original_max_position_embeddings"));
            default -> throw config.error(where + " type '" + type + "' is not supported (supported: llama3, or none)");
        };
    }

    /** The rope_scaling object of {@code scaling} (null for none). */
    static JsonNode toJson(LlamaConfig.RopeScaling scaling) {
        if (scaling == null) {
            return NullNode.getInstance();
        }
        ObjectNode o = ModelJson.newObject();
        o.put("factor", scaling.factor());
        o.put("high_freq_factor", scaling.highFreqFactor());
        o.put("low_freq_factor", scaling.lowFreqFactor());
        o.put("original_max_position_embeddings", scaling.originalMaxPositionEmbeddings());
        o.put("rope_type", "llama3");
        return o;
    }
}
