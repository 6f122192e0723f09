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
            case "llama3" -> llama3(f, where);
            default -> throw config.error(where + " type '" + type + "' is not supported (supported: llama3, or none)");
        };
    }

    /**
     * Llama 3 scaling, checked as the formula needs it: factor finite and &gt;= 1, 0 &lt; low_freq_factor &lt;
     * high_freq_factor (both finite; the smoothing divides by their difference), original_max_position_embeddings &gt;= 1.
     */
    private static LlamaConfig.RopeScaling llama3(JsonFields f, String where) {
        double factor = f.requiredDouble("factor");
        if (!(factor >= 1) || Double.isInfinite(factor)) {
            throw f.error(where + ".factor is " + factor + ", expected a finite number >= 1");
        }
        double low = f.requiredDouble("low_freq_factor");
        if (!(low > 0) || Double.isInfinite(low)) {
            throw f.error(where + ".low_freq_factor is " + low + ", expected a finite number > 0");
        }
        double high = f.requiredDouble("high_freq_factor");
        if (!(high > low) || Double.isInfinite(high)) {
            throw f.error(
                    where + ".high_freq_factor is " + high + ", expected a finite number > low_freq_factor " + low);
        }
        int original = f.requiredInt("original_max_position_embeddings");
        if (original < 1) {
            throw f.error(where + ".original_max_position_embeddings is " + original + ", expected a positive integer");
        }
        return new LlamaConfig.RopeScaling(factor, low, high, original);
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
