package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.kernels.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a Hugging Face {@code config.json} of a llama, mistral or qwen2 causal LM into a {@link LlamaConfig}.
 * Absent or null fields take Hugging Face's defaults for that model type. Espalier's extension arrays
 * {@code espalier_num_attention_heads}, {@code espalier_num_key_value_heads} and {@code espalier_intermediate_sizes}
 * (one entry per layer) override the uniform values, and {@code espalier_attention_bias},
 * {@code espalier_attention_output_bias}, {@code espalier_mlp_bias} override the biases the model type implies.
 */
public final class HfConfigReader {
    private static final Logger LOG = LoggerFactory.getLogger(HfConfigReader.class);

    private HfConfigReader() {}

    /**
     * Reads and parses {@code configJson}; logs once, at WARN (so that the console shows it), which missing keys took
     * Hugging Face's defaults (not head_dim and num_key_value_heads, which every config derives the same way).
     */
    public static LlamaConfig read(Path configJson) {
        List<String> defaults = new ArrayList<>();
        LlamaConfig config = parse(ModelJson.readObject(configJson, "config"), configJson, defaults);
        if (!defaults.isEmpty()) {
            LOG.warn("{}: missing keys take Hugging Face's defaults: {}", configJson, String.join(", ", defaults));
        }
        return config;
    }

    /**
     * Parses a config object read from {@code source} (named in every error).
     *
     * <p>head_dim defaults to hidden_size / num_attention_heads, num_key_value_heads to num_attention_heads,
     * rope_theta to 10000, tie_word_embeddings to false; eos_token_id may be a list (its first entry is taken);
     * a token id the config leaves out is 1 (bos) / 2 (eos) for llama and mistral and -1 (none) for qwen2; null is -1.
     * Every value is checked against its meaning: sizes positive (or, for heads, layers and FFN widths, at least 0),
     * hidden_size divisible by num_attention_heads when head_dim is not given, num_attention_heads divisible by
     * num_key_value_heads, an even head_dim, rms_norm_eps in (0, 1), rope_theta finite and &gt; 0, token ids in
     * [-1, vocab_size).
     */
    public static LlamaConfig parse(ObjectNode root, Path source) {
        return parse(root, source, new ArrayList<>());
    }

    /** As {@link #parse(ObjectNode, Path)}, adding "key=value" to {@code defaults} for every key that took a default. */
    static LlamaConfig parse(ObjectNode root, Path source, List<String> defaults) {
        JsonFields f = new JsonFields(source, root, "");
        String type = modelType(f);
        int hidden = positive(f, "hidden_size", f.requiredInt("hidden_size"));
        // 0 heads is a structurally pruned model whose every layer lost its attention; head_dim must then be given
        int heads = nonNegative(f, "num_attention_heads", f.requiredInt("num_attention_heads"));
        int kvHeads = nonNegative(f, "num_key_value_heads", f.optionalInt("num_key_value_heads", heads));
        int intermediate = nonNegative(f, "intermediate_size", f.requiredInt("intermediate_size"));
        int numLayers = nonNegative(f, "num_hidden_layers", f.requiredInt("num_hidden_layers"));
        if (heads == 0 && !f.has("head_dim")) {
            throw f.error(
                    "num_attention_heads is 0 and head_dim is missing; expected head_dim when no layer has heads");
        }
        if (!f.has("head_dim") && hidden % heads != 0) {
            throw f.error("hidden_size " + hidden + " is not divisible by num_attention_heads " + heads
                    + "; expected a multiple (or head_dim given)");
        }
        if (!f.has(HfArchitectures.LAYER_HEADS)
                && !f.has(HfArchitectures.LAYER_KV_HEADS)
                && (kvHeads == 0 ? heads != 0 : heads % kvHeads != 0)) {
            throw f.error("num_attention_heads " + heads + " is not divisible by num_key_value_heads " + kvHeads
                    + "; expected a divisor of num_attention_heads");
        }
        int headDim = positive(f, "head_dim", f.optionalInt("head_dim", heads == 0 ? 0 : hidden / heads));
        if (headDim % 2 != 0) {
            throw f.error("head_dim is " + headDim + ", expected an even integer (rotary embeddings rotate pairs)");
        }
        if ((long) Math.max(heads, kvHeads) * headDim > Integer.MAX_VALUE) {
            throw f.error("num_attention_heads " + heads + " x head_dim " + headDim + " is too large; expected at most "
                    + Integer.MAX_VALUE + " rows");
        }
        int vocab = positive(f, "vocab_size", f.requiredInt("vocab_size"));
        String act = f.optionalString("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw f.error("hidden_act '" + act + "' is not supported (expected silu)");
        }
        boolean llamaAttentionBias = type.equals("llama") && f.optionalBoolean("attention_bias", false);
        boolean llamaMlpBias = type.equals("llama") && f.optionalBoolean("mlp_bias", false);
        boolean defaultTokens = !type.equals("qwen2");
        int maxPositions = positive(
                f,
                "max_position_embeddings",
                f.optionalInt(
                        "max_position_embeddings",
                        noted(f, defaults, "max_position_embeddings", defaultMaxPositions(type))));
        return new LlamaConfig(
                type,
                hidden,
                vocab,
                headDim,
                layers(f, numLayers, heads, kvHeads, intermediate),
                maxPositions,
                rmsNormEps(f, defaults),
                ropeTheta(f, defaults),
                HfRopeScaling.parse(f),
                f.optionalBoolean("tie_word_embeddings", noted(f, defaults, "tie_word_embeddings", false)),
                f.optionalBoolean(
                        HfArchitectures.ATTENTION_BIAS, HfArchitectures.impliedAttentionBias(type, llamaAttentionBias)),
                f.optionalBoolean(
                        HfArchitectures.ATTENTION_OUTPUT_BIAS,
                        HfArchitectures.impliedAttentionOutputBias(type, llamaAttentionBias)),
                f.optionalBoolean(HfArchitectures.MLP_BIAS, HfArchitectures.impliedMlpBias(type, llamaMlpBias)),
                slidingWindow(f, type, numLayers),
                tokenId(f, defaults, "bos_token_id", defaultTokens ? 1 : -1, vocab),
                tokenId(f, defaults, "eos_token_id", defaultTokens ? 2 : -1, vocab),
                torchDtype(f));
    }

    /** {@code fallback}, noted in {@code defaults} when {@code name} is absent or null (the caller then uses it). */
    private static <T> T noted(JsonFields f, List<String> defaults, String name, T fallback) {
        if (!f.has(name)) {
            defaults.add(name + "=" + fallback);
        }
        return fallback;
    }

    private static float rmsNormEps(JsonFields f, List<String> defaults) {
        double eps = f.optionalDouble("rms_norm_eps", noted(f, defaults, "rms_norm_eps", 1e-6));
        if (!(eps > 0 && eps < 1) || (float) eps == 0f) {
            throw f.error("rms_norm_eps is " + eps + ", expected a finite number in (0, 1)");
        }
        return (float) eps;
    }

    private static String modelType(JsonFields f) {
        JsonNode archs = f.node("architectures");
        if (archs != null) {
            if (!archs.isArray()) {
                throw f.error("architectures is " + archs + ", expected a list of names");
            }
            for (JsonNode a : archs) {
                if (!a.isTextual() || HfArchitectures.modelTypeOf(a.textValue()) == null) {
                    throw f.error("unsupported architecture " + a + " (supported: "
                            + HfArchitectures.SUPPORTED_ARCHITECTURES + ")");
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

    private static List<LlamaConfig.LayerDims> layers(
            JsonFields f, int numLayers, int heads, int kvHeads, int intermediate) {
        int[] h = f.optionalIntArray(HfArchitectures.LAYER_HEADS, numLayers);
        int[] kv = f.optionalIntArray(HfArchitectures.LAYER_KV_HEADS, numLayers);
        int[] ffn = f.optionalIntArray(HfArchitectures.LAYER_INTERMEDIATE, numLayers);
        List<LlamaConfig.LayerDims> out = new ArrayList<>(numLayers);
        for (int i = 0; i < numLayers; i++) {
            try {
                out.add(new LlamaConfig.LayerDims(
                        h == null ? heads : h[i], kv == null ? kvHeads : kv[i], ffn == null ? intermediate : ffn[i]));
            } catch (IllegalArgumentException e) {
                throw f.error("layer " + i + ": " + e.getMessage()
                        + " (num_attention_heads, num_key_value_heads, intermediate_size or their espalier_ arrays)");
            }
        }
        return out;
    }

    private static double ropeTheta(JsonFields f, List<String> defaults) {
        String key = "rope_theta";
        double theta;
        JsonNode params = f.node("rope_parameters"); // transformers 5 moves rope_theta here
        if (f.has("rope_theta")) {
            theta = f.optionalDouble("rope_theta", 10000.0);
        } else if (params != null && params.isObject() && params.hasNonNull("rope_theta")) {
            key = "rope_parameters.rope_theta";
            theta = new JsonFields(f.file(), (ObjectNode) params, "rope_parameters.")
                    .optionalDouble("rope_theta", 10000.0);
        } else {
            theta = noted(f, defaults, "rope_theta", 10000.0);
        }
        if (!(theta > 0) || Double.isInfinite(theta)) {
            throw f.error(key + " is " + theta + ", expected a finite number > 0");
        }
        return theta;
    }

    /**
     * Mistral: sliding_window (Hugging Face default 4096, null for none). Qwen2: sliding_window applies only with
     * use_sliding_window, and only to layers at or above max_window_layers; a model where some layers slide and
     * others do not is refused (one window for all layers is what {@link LlamaConfig} describes).
     */
    private static int slidingWindow(JsonFields f, String type, int numLayers) {
        switch (type) {
            case "mistral" -> {
                if (f.present("sliding_window")) { // null: no window
                    return f.has("sliding_window")
                            ? positive(f, "sliding_window", f.optionalInt("sliding_window", 0))
                            : 0;
                }
                return 4096;
            }
            case "qwen2" -> {
                if (!f.optionalBoolean("use_sliding_window", false)) {
                    return 0;
                }
                int window = positive(f, "sliding_window", f.optionalInt("sliding_window", 4096));
                int firstSliding = nonNegative(f, "max_window_layers", f.optionalInt("max_window_layers", 28));
                if (firstSliding >= numLayers) {
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

    /** Absent: the model type's default; null: -1 (none); a list: its first entry. Must be -1 or an id below vocab_size. */
    private static int tokenId(JsonFields f, List<String> defaults, String name, int fallback, int vocab) {
        if (!f.present(name)) {
            return noted(f, defaults, name, fallback);
        }
        int id = f.optionalIntOrFirst(name, -1);
        if (id < -1 || id >= vocab) {
            throw f.error(name + " is " + id + ", expected a token id in [0, vocab_size " + vocab + ") or null");
        }
        return id;
    }

    private static DType torchDtype(JsonFields f) {
        String name = f.optionalString("torch_dtype", f.optionalString("dtype", "float32"));
        String bare = name.startsWith("torch.") ? name.substring("torch.".length()) : name;
        return switch (bare) {
            case "float32", "float" -> DType.F32;
            case "float16", "half" -> DType.F16;
            case "bfloat16" -> DType.BF16;
            case "float64", "double" -> DType.F64;
            default ->
                throw f.error("torch_dtype '" + name + "' is not supported (expected float32, float16 or bfloat16)");
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
