package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.kernels.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a Hugging Face {@code config.json} of a llama, mistral or qwen2 causal LM into a {@link LlamaConfig}.
 * Absent or null fields take Hugging Face's defaults for that model type. Espalier's extension arrays
 * {@code espalier_num_attention_heads}, {@code espalier_num_key_value_heads} and {@code espalier_intermediate_sizes}
 * (one entry per layer) override the uniform values, and {@code espalier_attention_bias},
 * {@code espalier_attention_output_bias}, {@code espalier_mlp_bias} override the biases the model type implies.
 */
public final class HfConfigReader {
    private HfConfigReader() {}

    /** Reads and parses {@code configJson}. */
    public static LlamaConfig read(Path configJson) {
        return parse(ModelJson.readObject(configJson, "config"), configJson);
    }

    /**
     * Parses a config object read from {@code source} (named in every error).
     *
     * <p>head_dim defaults to hidden_size / num_attention_heads, num_key_value_heads to num_attention_heads,
     * rope_theta to 10000, tie_word_embeddings to false; eos_token_id may be a list (its first entry is taken);
     * a token id the config leaves out is 1 (bos) / 2 (eos) for llama and mistral and -1 (none) for qwen2; null is -1.
     */
    public static LlamaConfig parse(ObjectNode root, Path source) {
        JsonFields f = new JsonFields(source, root, "");
        String type = modelType(f);
        int hidden = positive(f, "hidden_size", f.requiredInt("hidden_size"));
        // 0 heads is a structurally pruned model whose every layer lost its attention; head_dim must then be given
        int heads = nonNegative(f, "num_attention_heads", f.requiredInt("num_attention_heads"));
        int kvHeads = nonNegative(f, "num_key_value_heads", f.optionalInt("num_key_value_heads", heads));
        int intermediate = nonNegative(f, "intermediate_size", f.requiredInt("intermediate_size"));
        int numLayers = nonNegative(f, "num_hidden_layers", f.requiredInt("num_hidden_layers"));
        if (heads == 0 && !f.has("head_dim")) {
            throw f.error("num_attention_heads is 0 and head_dim is missing; expected head_dim when no layer has heads");
        }
        int headDim = positive(f, "head_dim", f.optionalInt("head_dim", heads == 0 ? 0 : hidden / heads));
        int vocab = positive(f, "vocab_size", f.requiredInt("vocab_size"));
        String act = f.optionalString("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw f.error("hidden_act '" + act + "' is not supported (expected silu)");
        }
        boolean llamaAttentionBias = type.equals("llama") && f.optionalBoolean("attention_bias", false);
        boolean llamaMlpBias = type.equals("llama") && f.optionalBoolean("mlp_bias", false);
        boolean defaultTokens = !type.equals("qwen2");
        return new LlamaConfig(
                type,
                hidden,
                vocab,
                headDim,
                layers(f, numLayers, heads, kvHeads, intermediate),
                positive(f, "max_position_embeddings", f.optionalInt("max_position_embeddings", defaultMaxPositions(type))),
                (float) f.optionalDouble("rms_norm_eps", 1e-6),
                ropeTheta(f),
                HfRopeScaling.parse(f),
                f.optionalBoolean("tie_word_embeddings", false),
                f.optionalBoolean(HfArchitectures.ATTENTION_BIAS, HfArchitectures.impliedAttentionBias(type, llamaAttentionBias)),
                f.optionalBoolean(HfArchitectures.ATTENTION_OUTPUT_BIAS, HfArchitectures.impliedAttentionOutputBias(type, llamaAttentionBias)),
                f.optionalBoolean(HfArchitectures.MLP_BIAS, HfArchitectures.impliedMlpBias(type, llamaMlpBias)),
                slidingWindow(f, type, numLayers),
                tokenId(f, "bos_token_id", defaultTokens ? 1 : -1),
                tokenId(f, "eos_token_id", defaultTokens ? 2 : -1),
                torchDtype(f));
    }

    private static String modelType(JsonFields f) {
        JsonNode archs = f.node("architectures");
        if (archs != null) {
            if (!archs.isArray()) {
                throw f.error("architectures is " + archs + ", expected a list of names");
            }
            for (JsonNode a : archs) {
                if (!a.isTextual() || HfArchitectures.modelTypeOf(a.textValue()) == null) {
                    throw f.error("unsupported architecture " + a + " (supported: " + HfArchitectures.SUPPORTED_ARCHITECTURES + ")");
                }
            }
        }
        String type = f.optionalString("model_type", null);
        if (type == null) {
            if (archs == null || archs.isEmpty()) {
                throw f.error("has no model_type (supported: " + HfArchitectures.SUPPORTED_TYPES + ")");
            }
            return HfArchitectures.modelTypeOf(archs.get(0).textValue());
        }
        if (!HfArchitectures.BY_MODEL_TYPE.containsKey(type)) {
            throw f.error("unsupported model_type '" + type + "' (supported: " + HfArchitectures.SUPPORTED_TYPES + ")");
        }
        return type;
    }

    private static List<LlamaConfig.LayerDims> layers(JsonFields f, int numLayers, int heads, int kvHeads, int intermediate) {
        int[] h = f.optionalIntArray(HfArchitectures.LAYER_HEADS, numLayers);
        int[] kv = f.optionalIntArray(HfArchitectures.LAYER_KV_HEADS, numLayers);
        int[] ffn = f.optionalIntArray(HfArchitectures.LAYER_INTERMEDIATE, numLayers);
        List<LlamaConfig.LayerDims> out = new ArrayList<>(numLayers);
        for (int i = 0; i < numLayers; i++) {
            try {
                out.add(new LlamaConfig.LayerDims(h == null ? heads : h[i], kv == null ? kvHeads : kv[i], ffn == null ? intermediate : ffn[i]));
            } catch (IllegalArgumentException e) {
                throw f.error("layer " + i + ": " + e.getMessage());
            }
        }
        return out;
    }

    private static double ropeTheta(JsonFields f) {
        if (f.has("rope_theta")) {
            return f.optionalDouble("rope_theta", 10000.0);
        }
        JsonNode params = f.node("rope_parameters"); // transformers 5 moves rope_theta here
        if (params != null && params.isObject()) {
            return new JsonFields(f.file(), (ObjectNode) params, "rope_parameters.").optionalDouble("rope_theta", 10000.0);
        }
        return 10000.0;
    }

    /**
     * Mistral: sliding_window (Hugging Face default 4096, null for none). Qwen2: sliding_window applies only with
     * use_sliding_window, and only to layers at or above max_window_layers; a model where some layers slide and
     * others do not is refused (one window for all layers is what {@link LlamaConfig} describes).
     */
    private static int slidingWindow(JsonFields f, String type, int numLayers) {
        switch (type) {
            case "mistral" -> {
                if (f.present("sliding_window")) {
                    return nonNegative(f, "sliding_window", f.optionalInt("sliding_window", 0));
                }
                return 4096;
            }
            case "qwen2" -> {
                if (!f.optionalBoolean("use_sliding_window", false)) {
                    return 0;
                }
                int window = nonNegative(f, "sliding_window", f.optionalInt("sliding_window", 4096));
                int firstSliding = f.optionalInt("max_window_layers", 28);
                if (window == 0 || firstSliding >= numLayers) {
                    return 0;
                }
                if (firstSliding > 0) {
                    throw f.error("use_sliding_window with max_window_layers " + firstSliding + " of " + numLayers
                            + " layers mixes sliding and full attention, which is not supported");
                }
                return window;
            }
            default -> {
                return 0;
            }
        }
    }

    /** Absent: the model type's default; null: -1 (none); a list: its first entry. */
    private static int tokenId(JsonFields f, String name, int fallback) {
        if (!f.present(name)) {
            return fallback;
        }
        return f.optionalIntOrFirst(name, -1);
    }

    private static DType torchDtype(JsonFields f) {
        String name = f.optionalString("torch_dtype", f.optionalString("dtype", "float32"));
        String bare = name.startsWith("torch.") ? name.substring("torch.".length()) : name;
        return switch (bare) {
            case "float32", "float" -> DType.F32;
            case "float16", "half" -> DType.F16;
            case "bfloat16" -> DType.BF16;
            case "float64", "double" -> DType.F64;
            default -> throw f.error("torch_dtype '" + name + "' is not supported (expected float32, float16 or bfloat16)");
        };
    }

    private static int defaultMaxPositions(String type) {
        return switch (type) {
            case "mistral" -> 4096 * 32;
            case "qwen2" -> 32768;
            default -> 2048;
        };
    }

    private static int positive(JsonFields f, String name, int value) {
        if (value <= 0) {
            throw f.error(name + " is " + value + ", expected a positive integer");
        }
        return value;
    }

    private static int nonNegative(JsonFields f, String name, int value) {
        if (value < 0) {
            throw f.error(name + " is " + value + ", expected an integer >= 0");
        }
        return value;
    }
}
