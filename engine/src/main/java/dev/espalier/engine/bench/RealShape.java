package dev.espalier.engine.bench;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.kernels.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The shapes of real checkpoints, as their Hugging Face config.json files give them, for synthetic models of the
 * same sizes ({@link SyntheticCheckpoints}). Only the shapes and the settings that change the computation (GQA, RoPE
 * base and scaling, biases, sliding window, norm epsilon) are real; the weights are seeded random numbers.
 */
public enum RealShape {
    /** meta-llama/Llama-2-7b-hf. */
    LLAMA2_7B("llama2-7b", "llama", 4096, 32, 32, 11008, 32000, 32, 4096, 1e-5f, 10000, null, false, 0),
    /** meta-llama/Llama-2-13b-hf. */
    LLAMA2_13B("llama2-13b", "llama", 5120, 40, 40, 13824, 32000, 40, 4096, 1e-5f, 10000, null, false, 0),
    /** meta-llama/Llama-3.1-8B: GQA with 8 key/value heads, vocab 128256, llama3 RoPE scaling. */
    LLAMA3_8B(
            "llama3-8b",
            "llama",
            4096,
            32,
            8,
            14336,
            128256,
            32,
            131072,
            1e-5f,
            500000,
            new LlamaConfig.RopeScaling(8.0, 1.0, 4.0, 8192),
            false,
            0),
    /** mistralai/Mistral-7B-v0.1: GQA with 8 key/value heads, a 4096-token sliding window. */
    MISTRAL_7B("mistral-7b", "mistral", 4096, 32, 8, 14336, 32000, 32, 32768, 1e-5f, 10000, null, false, 4096),
    /** Qwen/Qwen2-7B: 28 heads sharing 4 key/value heads, q/k/v biases, vocab 152064. */
    QWEN2_7B("qwen2-7b", "qwen2", 3584, 28, 4, 18944, 152064, 28, 131072, 1e-6f, 1000000, null, true, 0);

    private final String label;
    private final String modelType;
    private final int hidden;
    private final int heads;
    private final int kvHeads;
    private final int intermediate;
    private final int vocab;
    private final int layers;
    private final int context;
    private final float rmsNormEps;
    private final double ropeTheta;
    private final LlamaConfig.RopeScaling ropeScaling;
    private final boolean attentionBias;
    private final int slidingWindow;

    RealShape(
            String label,
            String modelType,
            int hidden,
            int heads,
            int kvHeads,
            int intermediate,
            int vocab,
            int layers,
            int context,
            float rmsNormEps,
            double ropeTheta,
            LlamaConfig.RopeScaling ropeScaling,
            boolean attentionBias,
            int slidingWindow) {
        this.label = label;
        this.modelType = modelType;
        this.hidden = hidden;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.intermediate = intermediate;
        this.vocab = vocab;
        this.layers = layers;
        this.context = context;
        this.rmsNormEps = rmsNormEps;
        this.ropeTheta = ropeTheta;
        this.ropeScaling = ropeScaling;
        this.attentionBias = attentionBias;
        this.slidingWindow = slidingWindow;
    }

    public String label() {
        return label;
    }

    /** The real model's number of decoder layers. */
    public int layers() {
        return layers;
    }

    /** The shape by its label ({@code llama2-7b}, ...); IllegalArgumentException naming the labels otherwise. */
    public static RealShape of(String label) {
        for (RealShape s : values()) {
            if (s.label.equals(label.trim().toLowerCase(Locale.ROOT))) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown shape '" + label + "'; expected one of " + labels());
    }

    public static String labels() {
        return Arrays.stream(values()).map(RealShape::label).collect(Collectors.joining(", "));
    }

    /** The config of this shape with {@code numLayers} decoder layers (untied head), weights stored as {@code dtype}. */
    public LlamaConfig config(int numLayers, DType dtype) {
        if (numLayers < 1) {
            throw new IllegalArgumentException("a model needs at least one decoder layer, got " + numLayers);
        }
        List<LlamaConfig.LayerDims> dims = new ArrayList<>();
        for (int l = 0; l < numLayers; l++) {
            dims.add(new LlamaConfig.LayerDims(heads, kvHeads, intermediate));
        }
        return new LlamaConfig(
                modelType,
                hidden,
                vocab,
                hidden / heads,
                dims,
                context,
                rmsNormEps,
                ropeTheta,
                ropeScaling,
                false,
                attentionBias,
                false,
                false,
                slidingWindow,
                1,
                2,
                dtype);
    }
}
