package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.kernels.DType;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * Writes a {@link LlamaConfig} as a Hugging Face {@code config.json} that {@link HfConfigReader} reads back to an equal
 * config. Keys are sorted as Hugging Face writes them. Layers that differ (structured pruning) are described by the
 * Espalier arrays {@code espalier_num_attention_heads}, {@code espalier_num_key_value_heads},
 * {@code espalier_intermediate_sizes}, each emitted only when its value varies across layers; the uniform fields then
 * hold the largest value. Biases the model type cannot express get an {@code espalier_*_bias} flag.
 */
public final class HfConfigWriter {
    private HfConfigWriter() {}

    /** Writes {@code config} to {@code configJson} atomically (temporary file, fsync, rename). */
    public static void write(LlamaConfig config, Path configJson) {
        byte[] bytes = ModelJson.toPrettyBytes(toJson(config));
        try {
            AtomicFiles.write(configJson, bytes);
        } catch (UncheckedIOException e) {
            throw IoFailures.of(configJson, "write", e.getCause());
        }
    }

    /** The config.json object of {@code config}. */
    public static ObjectNode toJson(LlamaConfig config) {
        String type = config.modelType();
        String architecture = HfArchitectures.BY_MODEL_TYPE.get(type);
        if (architecture == null) {
            throw new IllegalArgumentException(
                    "unsupported model_type '" + type + "' (supported: " + HfArchitectures.SUPPORTED_TYPES + ")");
        }
        if (type.equals("llama") && config.slidingWindow() != 0) {
            throw new IllegalArgumentException(
                    "a llama config cannot carry a sliding window (" + config.slidingWindow() + ")");
        }
        ObjectNode o = ModelJson.newObject();
        o.putArray("architectures").add(architecture);
        o.put("model_type", type);
        o.put("hidden_size", config.hiddenSize());
        o.put("vocab_size", config.vocabSize());
        o.put("head_dim", config.headDim());
        o.put("num_hidden_layers", config.numLayers());
        layerField(o, config, "num_attention_heads", HfArchitectures.LAYER_HEADS, LlamaConfig.LayerDims::numHeads);
        layerField(o, config, "num_key_value_heads", HfArchitectures.LAYER_KV_HEADS, LlamaConfig.LayerDims::numKvHeads);
        layerField(
                o,
                config,
                "intermediate_size",
                HfArchitectures.LAYER_INTERMEDIATE,
                LlamaConfig.LayerDims::intermediateSize);
        o.put("hidden_act", "silu");
        o.put("max_position_embeddings", config.maxPositionEmbeddings());
        o.put("rms_norm_eps", Double.parseDouble(Float.toString(config.rmsNormEps())));
        o.put("rope_theta", config.ropeTheta());
        o.set("rope_scaling", HfRopeScaling.toJson(config.ropeScaling()));
        o.put("tie_word_embeddings", config.tieWordEmbeddings());
        biases(o, config);
        slidingWindow(o, config);
        tokenId(o, "bos_token_id", config.bosTokenId());
        tokenId(o, "eos_token_id", config.eosTokenId());
        o.put("torch_dtype", torchDtypeName(config.torchDtype()));
        return sorted(o);
    }

    private static void layerField(
            ObjectNode o, LlamaConfig c, String uniformKey, String arrayKey, ToIntFunction<LlamaConfig.LayerDims> dim) {
        List<Integer> values = new ArrayList<>();
        c.layers().forEach(d -> values.add(dim.applyAsInt(d)));
        o.put(uniformKey, values.stream().mapToInt(Integer::intValue).max().orElse(0));
        if (values.stream().distinct().count() > 1) {
            ArrayNode a = o.putArray(arrayKey);
            values.forEach(a::add);
        }
    }

    private static void biases(ObjectNode o, LlamaConfig c) {
        String type = c.modelType();
        boolean llamaAttentionBias = type.equals("llama") && c.attentionBias();
        boolean llamaMlpBias = type.equals("llama") && c.mlpBias();
        if (type.equals("llama")) {
            o.put("attention_bias", llamaAttentionBias);
            o.put("mlp_bias", llamaMlpBias);
        }
        if (c.attentionBias() != HfArchitectures.impliedAttentionBias(type, llamaAttentionBias)) {
            o.put(HfArchitectures.ATTENTION_BIAS, c.attentionBias());
        }
        if (c.attentionOutputBias() != HfArchitectures.impliedAttentionOutputBias(type, llamaAttentionBias)) {
            o.put(HfArchitectures.ATTENTION_OUTPUT_BIAS, c.attentionOutputBias());
        }
        if (c.mlpBias() != HfArchitectures.impliedMlpBias(type, llamaMlpBias)) {
            o.put(HfArchitectures.MLP_BIAS, c.mlpBias());
        }
    }

    private static void slidingWindow(ObjectNode o, LlamaConfig c) {
        int w = c.slidingWindow();
        switch (c.modelType()) {
            case "mistral" -> {
                if (w > 0) {
                    o.put("sliding_window", w);
                } else {
                    o.putNull("sliding_window");
                }
            }
            case "qwen2" -> {
                o.put("use_sliding_window", w > 0);
                if (w > 0) {
                    o.put("sliding_window", w);
                } else {
                    o.putNull("sliding_window");
                }
                o.put("max_window_layers", w > 0 ? 0 : c.numLayers());
            }
            default -> {}
        }
    }

    private static void tokenId(ObjectNode o, String key, int id) {
        if (id >= 0) {
            o.put(key, id);
        } else {
            o.putNull(key);
        }
    }

    static String torchDtypeName(DType dtype) {
        return switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F64 -> "float64";
        };
    }

    private static ObjectNode sorted(ObjectNode o) {
        ObjectNode out = ModelJson.newObject();
        List<String> keys = new ArrayList<>();
        o.fieldNames().forEachRemaining(keys::add);
        keys.sort(null);
        keys.forEach(k -> out.set(k, o.get(k)));
        return out;
    }
}
