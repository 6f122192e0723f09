package dev.espalier.engine.bench;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Configs with the exact shapes of real models and seeded random weights, for measuring speed at real scale where
 * the checkpoints cannot be downloaded. Numbers measured on them say "synthetic weights" wherever they are reported.
 */
public final class SyntheticModels {
    private SyntheticModels() {}

    /** LLaMA-7B: hidden 4096, 32 heads (no GQA), FFN 11008, vocab 32000, context 4096. */
    public static LlamaConfig llama7b(int layers) {
        return config(4096, 32, 32, 11008, 32000, 4096, layers);
    }

    public static LlamaConfig config(
            int hidden, int heads, int kvHeads, int intermediate, int vocab, int context, int layers) {
        List<LlamaConfig.LayerDims> dims = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            dims.add(new LlamaConfig.LayerDims(heads, kvHeads, intermediate));
        }
        return new LlamaConfig(
                "llama",
                hidden,
                vocab,
                hidden / heads,
                dims,
                context,
                1e-5f,
                10000.0,
                null,
                false,
                false,
                false,
                false,
                0,
                1,
                2,
                DType.F32);
    }

    /** A whole model with {@code config}'s shapes and seeded random weights (untied output head), owned by {@code arena}. */
    public static LlamaModel model(Arena arena, LlamaConfig config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<DecoderLayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            layers.add(layer(arena, config, l, seed));
        }
        return new LlamaModel(
                config,
                random(arena, random, config.vocabSize(), config.hiddenSize()),
                layers,
                ones(arena, config.hiddenSize()),
                random(arena, random, config.vocabSize(), config.hiddenSize()),
                Path.of("synthetic"),
                arena);
    }

    /** Every decoder layer of {@code config} with seeded random weights ({@link #layer}), without embedding or head. */
    public static List<DecoderLayerWeights> layers(Arena arena, LlamaConfig config, long seed) {
        List<DecoderLayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            layers.add(layer(arena, config, l, seed));
        }
        return layers;
    }

    /** Random decoder-layer weights, uniform in ±1/sqrt(fan_in), norms at 1, no biases. */
    public static DecoderLayerWeights layer(Arena arena, LlamaConfig config, int layer, long seed) {
        SplittableRandom random = new SplittableRandom(seed * 1_000_003L + layer);
        LlamaConfig.LayerDims d = config.layer(layer);
        int h = config.hiddenSize();
        int q = d.numHeads() * config.headDim();
        int kv = d.numKvHeads() * config.headDim();
        int f = d.intermediateSize();
        return new DecoderLayerWeights(
                ones(arena, h),
                random(arena, random, q, h),
                random(arena, random, kv, h),
                random(arena, random, kv, h),
                random(arena, random, h, q),
                null,
                null,
                null,
                null,
                ones(arena, h),
                random(arena, random, f, h),
                random(arena, random, f, h),
                random(arena, random, h, f),
                null,
                null,
                null);
    }

    /** A (rows, cols) F32 tensor uniform in ±1/sqrt(cols). */
    public static Tensor random(Arena arena, SplittableRandom random, int rows, int cols) {
        Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
        double bound = 1.0 / Math.sqrt(cols);
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            t.setFlat(i, (random.nextDouble() * 2 - 1) * bound);
        }
        return t;
    }

    private static Tensor ones(Arena arena, int n) {
        Tensor t = Tensor.allocate(arena, DType.F32, n);
        for (int i = 0; i < n; i++) {
            t.setFlat(i, 1.0);
        }
        return t;
    }
}
