package dev.espalier.engine.bench;

import dev.espalier.engine.forward.DecoderLayerForward;
import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;

/** Times prefill through decoder layers: best of {@code repeats} runs after one warm-up. */
public final class ForwardBenchmark {
    private ForwardBenchmark() {}

    /**
     * @param flops       floating-point operations of one run: the linear maps plus the attention products as computed
     *                    (full n×n score matrices, although the causal half would suffice)
     */
    public record Result(String what, int tokens, double seconds, double flops) {
        public double tokensPerSecond() {
            return tokens / seconds;
        }

        public double gflops() {
            return flops / seconds / 1e9;
        }
    }

    /** One synthetic decoder layer with the shapes of {@code config}'s layer 0, on {@code tokens} tokens. */
    public static Result syntheticLayer(String what, LlamaConfig config, TensorOps ops, int tokens, int repeats) {
        try (Arena arena = Arena.ofShared()) {
            DecoderLayerWeights weights = SyntheticModels.layer(arena, config, 0, 7);
            DecoderLayerForward forward = new DecoderLayerForward(config, ops, arena, tokens, tokens);
            LlamaConfig.LayerDims d = config.layer(0);
            int kvWidth = d.numKvHeads() * config.headDim();
            Tensor keys = Tensor.allocate(arena, DType.F32, tokens, kvWidth);
            Tensor values = Tensor.allocate(arena, DType.F32, tokens, kvWidth);
            Tensor input = SyntheticModels.random(arena, new SplittableRandom(11), tokens, config.hiddenSize());
            Tensor hidden = Tensor.allocate(arena, DType.F32, tokens, config.hiddenSize());
            double best = Double.MAX_VALUE;
            for (int run = 0; run <= repeats; run++) {
                input.copyInto(hidden);
                long start = System.nanoTime();
                forward.apply(0, weights, LayerMask.NONE, LayerTap.NONE, hidden, 0, keys, values);
                double seconds = (System.nanoTime() - start) / 1e9;
                if (run > 0) {
                    best = Math.min(best, seconds);
                }
            }
            return new Result(what, tokens, best, layerFlops(config, 0, tokens));
        }
    }

    /** The whole model on windows of {@code tokens} tokens (logits included). */
    public static Result model(String what, LlamaModel model, TensorOps ops, int tokens, int repeats) {
        LlamaConfig config = model.config();
        int[] window = new int[tokens];
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < tokens; i++) {
            window[i] = random.nextInt(config.vocabSize());
        }
        double flops = 2.0 * tokens * config.vocabSize() * config.hiddenSize();
        for (int l = 0; l < config.numLayers(); l++) {
            flops += layerFlops(config, l, tokens);
        }
        try (LlamaForward forward = new LlamaForward(model, ops, tokens, tokens)) {
            double best = Double.MAX_VALUE;
            for (int run = 0; run <= repeats; run++) {
                long start = System.nanoTime();
                forward.negativeLogLikelihoods(window, null);
                double seconds = (System.nanoTime() - start) / 1e9;
                if (run > 0) {
                    best = Math.min(best, seconds);
                }
            }
            return new Result(what, tokens, best, flops);
        }
    }

    /** Linear-map FLOPs 2·n·params plus 4·n²·(heads·headDim) for the two attention products. */
    public static double layerFlops(LlamaConfig config, int layer, int tokens) {
        LlamaConfig.LayerDims d = config.layer(layer);
        double h = config.hiddenSize();
        double q = (double) d.numHeads() * config.headDim();
        double kv = (double) d.numKvHeads() * config.headDim();
        double linear = 2.0 * tokens * (h * (q + 2 * kv) + q * h + 3 * h * d.intermediateSize());
        double attention = 4.0 * tokens * (double) tokens * q;
        return linear + attention;
    }
}
