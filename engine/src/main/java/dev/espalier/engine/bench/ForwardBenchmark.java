package dev.espalier.engine.bench;

import dev.espalier.engine.forward.DecoderLayerForward;
import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.structured.LayerSurgery;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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

    /**
     * One row of the structured-pruning speed table: the dense decoder stack against its compact version that keeps a
     * fraction 1 − {@code removed} of the key/value groups (with all their query heads) and of the FFN channels of every
     * layer.
     *
     * @param removed             the requested fraction of heads and channels removed
     * @param paramsRemoved       fraction of the prunable parameters (q, k, v, o, gate, up, down) actually removed
     * @param flopsRatio          compact FLOPs / dense FLOPs of one prefill through the stack
     * @param denseTokensPerSecond   best of the repetitions
     * @param compactTokensPerSecond best of the repetitions
     */
    public record StructuredResult(
            String what,
            double removed,
            double paramsRemoved,
            double flopsRatio,
            double denseTokensPerSecond,
            double compactTokensPerSecond) {
        public double speedUp() {
            return compactTokensPerSecond / denseTokensPerSecond;
        }

        /** Speed-up ÷ (dense FLOPs / compact FLOPs): 1 when the compact model runs at the dense model's FLOP rate. */
        public double speedUpPerFlopReduction() {
            return speedUp() * flopsRatio;
        }
    }

    /**
     * Prefill tokens/s of the decoder stack {@code layers} (config {@code config}; embedding and output head excluded,
     * being the same in every model) against compact stacks that remove each fraction of {@code removed}, on blocks of
     * {@code tokens} tokens. Every round runs the dense stack and each compact stack (starting one model later each
     * round), so all are measured under the same machine load; after one warm-up round, the best of {@code repeats} rounds is reported. The kept
     * units are drawn at random with {@code seed} (speed does not depend on which units survive).
     */
    public static List<StructuredResult> structured(
            String what,
            LlamaConfig config,
            List<DecoderLayerWeights> layers,
            List<Double> removed,
            TensorOps ops,
            int tokens,
            int repeats,
            long seed) {
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom random = new SplittableRandom(seed);
            List<LlamaConfig> configs = new ArrayList<>(List.of(config));
            List<List<DecoderLayerWeights>> stacks = new ArrayList<>(List.of(layers));
            for (double s : removed) {
                List<DecoderLayerWeights> compact = new ArrayList<>();
                List<LlamaConfig.LayerDims> dims = new ArrayList<>();
                for (int l = 0; l < config.numLayers(); l++) {
                    KeptUnits kept = uniformKept(config.layer(l), s, random);
                    compact.add(LayerSurgery.compact(layers.get(l), config.layer(l), config.headDim(), kept, arena));
                    dims.add(kept.dims(config.layer(l)));
                }
                configs.add(config.withLayers(dims));
                stacks.add(compact);
            }
            Tensor input = SyntheticModels.random(arena, new SplittableRandom(seed + 1), tokens, config.hiddenSize());
            Tensor hidden = Tensor.allocate(arena, DType.F32, tokens, config.hiddenSize());
            int kvWidth = Math.max(
                    1,
                    config.layers().stream()
                                    .mapToInt(LlamaConfig.LayerDims::numKvHeads)
                                    .max()
                                    .orElse(1)
                            * config.headDim());
            Tensor keys = Tensor.allocate(arena, DType.F32, tokens, kvWidth);
            Tensor values = Tensor.allocate(arena, DType.F32, tokens, kvWidth);
            DecoderLayerForward[] forwards = new DecoderLayerForward[configs.size()];
            for (int m = 0; m < forwards.length; m++) {
                forwards[m] = new DecoderLayerForward(configs.get(m), ops, arena, tokens, tokens);
            }
            double[] best = new double[configs.size()];
            Arrays.fill(best, Double.MAX_VALUE);
            for (int run = 0; run <= repeats; run++) {
                for (int i = 0; i < forwards.length; i++) {
                    int m = (i + run)
                            % forwards.length; // each round starts with another model: no fixed position in the order
                    input.copyInto(hidden);
                    long start = System.nanoTime();
                    for (int l = 0; l < config.numLayers(); l++) {
                        int width = Math.max(1, configs.get(m).layer(l).numKvHeads() * config.headDim());
                        Tensor k = Tensor.of(keys.data(), DType.F32, tokens, width);
                        Tensor v = Tensor.of(values.data(), DType.F32, tokens, width);
                        forwards[m].apply(l, stacks.get(m).get(l), LayerMask.NONE, LayerTap.NONE, hidden, 0, k, v);
                    }
                    double seconds = (System.nanoTime() - start) / 1e9;
                    if (run > 0) {
                        best[m] = Math.min(best[m], seconds);
                    }
                }
            }
            double denseFlops = stackFlops(config, tokens);
            double denseParams = prunableParameters(config);
            List<StructuredResult> out = new ArrayList<>();
            for (int i = 0; i < removed.size(); i++) {
                LlamaConfig c = configs.get(i + 1);
                out.add(new StructuredResult(
                        what,
                        removed.get(i),
                        1 - prunableParameters(c) / denseParams,
                        stackFlops(c, tokens) / denseFlops,
                        tokens / best[0],
                        tokens / best[i + 1]));
            }
            return out;
        }
    }

    /**
     * Keeps round((1 − removed) · kvHeads) key/value groups, each with all its query heads, and
     * round((1 − removed) · intermediate) channels, chosen at random.
     */
    public static KeptUnits uniformKept(LlamaConfig.LayerDims dense, double removed, SplittableRandom random) {
        int perGroup = dense.numHeads() / dense.numKvHeads();
        int[] groups = randomSubset(random, dense.numKvHeads(), (int) Math.round((1 - removed) * dense.numKvHeads()));
        int[] heads = new int[groups.length * perGroup];
        for (int i = 0; i < groups.length; i++) {
            for (int j = 0; j < perGroup; j++) {
                heads[i * perGroup + j] = groups[i] * perGroup + j;
            }
        }
        return new KeptUnits(heads, randomSubset(random, dense.intermediateSize(), (int)
                Math.round((1 - removed) * dense.intermediateSize())));
    }

    /** Parameters of the q, k, v, o, gate, up and down projections of every layer. */
    public static double prunableParameters(LlamaConfig config) {
        double n = 0;
        for (LlamaConfig.LayerDims d : config.layers()) {
            double q = (double) d.numHeads() * config.headDim();
            double kv = (double) d.numKvHeads() * config.headDim();
            n += config.hiddenSize() * (2 * q + 2 * kv + 3.0 * d.intermediateSize());
        }
        return n;
    }

    private static double stackFlops(LlamaConfig config, int tokens) {
        double f = 0;
        for (int l = 0; l < config.numLayers(); l++) {
            f += layerFlops(config, l, tokens);
        }
        return f;
    }

    private static int[] randomSubset(SplittableRandom random, int n, int k) {
        int[] all = new int[n];
        Arrays.setAll(all, i -> i);
        for (int i = 0; i < k; i++) {
            int j = i + random.nextInt(n - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        int[] out = Arrays.copyOf(all, k);
        Arrays.sort(out);
        return out;
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
