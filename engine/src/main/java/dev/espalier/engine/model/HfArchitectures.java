package dev.espalier.engine.model;

import java.util.Map;

/**
 * The Hugging Face model types Espalier reads, their causal-LM architecture names, and which biases each implies
 * when its config.json says nothing more (Hugging Face's own defaults).
 */
final class HfArchitectures {
    /** model_type to architecture, in the order listed in error messages. */
    static final Map<String, String> BY_MODEL_TYPE = Map.of(
            "llama", "LlamaForCausalLM",
            "mistral", "MistralForCausalLM",
            "qwen2", "Qwen2ForCausalLM");

    static final String SUPPORTED_TYPES = "llama, mistral, qwen2";
    static final String SUPPORTED_ARCHITECTURES = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM";

    /** Per-layer structure overrides for structurally pruned models (one entry per layer). */
    static final String LAYER_HEADS = "espalier_num_attention_heads";

    static final String LAYER_KV_HEADS = "espalier_num_key_value_heads";
    static final String LAYER_INTERMEDIATE = "espalier_intermediate_sizes";
    /** Bias overrides where the model type's Hugging Face convention cannot say it (e.g. FLAP's compensation bias). */
    static final String ATTENTION_BIAS = "espalier_attention_bias";

    static final String ATTENTION_OUTPUT_BIAS = "espalier_attention_output_bias";
    static final String MLP_BIAS = "espalier_mlp_bias";

    private HfArchitectures() {}

    static String modelTypeOf(String architecture) {
        for (Map.Entry<String, String> e : BY_MODEL_TYPE.entrySet()) {
            if (e.getValue().equals(architecture)) {
                return e.getKey();
            }
        }
        return null;
    }

    /** q/k/v biases implied by Hugging Face for this type, given llama's attention_bias flag. */
    static boolean impliedAttentionBias(String modelType, boolean llamaAttentionBias) {
        return switch (modelType) {
            case "qwen2" -> true;
            case "llama" -> llamaAttentionBias;
            default -> false;
        };
    }

    /** o_proj bias implied by Hugging Face for this type, given llama's attention_bias flag. */
    static boolean impliedAttentionOutputBias(String modelType, boolean llamaAttentionBias) {
        return modelType.equals("llama") && llamaAttentionBias;
    }

    /** gate/up/down biases implied by Hugging Face for this type, given llama's mlp_bias flag. */
    static boolean impliedMlpBias(String modelType, boolean llamaMlpBias) {
        return modelType.equals("llama") && llamaMlpBias;
    }
}
