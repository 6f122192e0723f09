package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Greedy output approximation (Li, Dong, Lei, arXiv 2407.19126) on one layer. Attention units are scored by their
 * output second moment ({@link GoaHeadScores}) and pruned greedily among the most similar pair of attention maps
 * ({@link AttentionMapSimilarity#greedyPrune}: below τ, or until the allocated number is gone), or with
 * {@code head_graph=threshold} by the components of the threshold graph ({@link AttentionMapSimilarity#thresholdPrune});
 * FFN channels by the depth-2 second moment ({@link GoaFfnScores}). {@code score=...} swaps the scores of both for
 * another importance ({@link GoaUnitScores}).
 *
 * <p>With recovery, four phases, each a pass of the layer's calibration batches in both the pruned and the dense
 * model, refit every module before it is pruned (ridge least squares against the dense model's outputs from the
 * pruned model's inputs, {@link RidgeRefit}; a refit is kept only when it lowers the error):
 * <ol>
 *   <li>q, k, v on the attention input (one shared Gram; three concurrent solves);</li>
 *   <li>attention units chosen on the refit attention's outputs and maps, o_proj refit on the kept heads' columns, the
 *       attention compacted;</li>
 *   <li>gate, up on the MLP input after the pruned attention (two concurrent solves);</li>
 *   <li>channels chosen, down_proj refit on the kept channels, the FFN compacted.</li>
 * </ol>
 * Without recovery one pass over the pruned model's inputs feeds the scores and the layer is compacted at once.
 */
final class GoaLayer extends StructuredLayer {
    static final int RECOVERY_PHASES = 4;
    private static final int ATTENTION_PHASE = 0;
    private static final int HEADS_PHASE = 1;
    private static final int MLP_PHASE = 2;
    private static final int CHANNELS_PHASE = 3;

    private final List<AutoCloseable> resources = new ArrayList<>();
    private final Map<LinearModule, Double> errors = new EnumMap<>(LinearModule.class);
    private GramStatistics attentionOutput; // Σ zᵀz of the o_proj input (head scores)
    private GramStatistics mlpInput; // Σ xᵀx of the gate/up input (Σ of the channel scores)
    private AttentionMapSimilarity maps;
    private GramStatistics randomTokenSigma; // data-free: Σ xᵀx of the MLP input of the dense model on random token ids
    private ColumnMoments downInput; // depth2-swiglu without recovery: the down_proj input's moments (channel scores)
    private double[] randomTokenDownSquares; // data-free depth2-swiglu: E[h_j²] of the dense model on random token ids
    private Paired paired; // recovery: the current phase's Grams of the pruned and dense streams
    private int headUnitsRemoved;

    GoaLayer(StructuredMethod method, int layer, DecoderLayerWeights dense, DecoderLayerWeights start, Arena arena) {
        super(method, layer, dense, start, arena);
    }

    private <T extends AutoCloseable> T keep(T resource) {
        resources.add(resource);
        return resource;
    }

    /** The Grams of one input of the layer in the pruned stream (G̃), the dense stream (G) and across them (C). */
    private final class Paired {
        final GramStatistics pruned;
        final GramStatistics dense;
        final CrossGramStatistics cross;

        Paired(int width) {
            pruned = keep(new GramStatistics(width));
            dense = keep(new GramStatistics(width));
            cross = keep(new CrossGramStatistics(width, width));
        }

        void add(Tensor x, Tensor d, TensorOps ops) {
            pruned.add(x, ops);
            dense.add(d, ops);
            cross.add(x, d, ops);
        }

        /** The refit weight lives in {@code target}; with nothing kept, the (out, 0) restriction and no error measured. */
        RidgeRefit.Result refit(Tensor weight, int[] kept, Arena target, TensorOps ops) {
            if (kept != null && kept.length == 0) {
                return new RidgeRefit.Result(
                        Tensor.allocate(target, DType.F32, weight.rows(), 0),
                        Double.NaN,
                        Double.NaN,
                        Double.NaN,
                        false);
            }
            return RidgeRefit.refit(
                    weight, pruned.gram(), cross.cross(), dense.gram(), kept, method.ridge(), target, ops);
        }
    }

    /** Which input of the layer a recovery phase reads. */
    private static LinearModule.Input inputOf(int phase) {
        return switch (phase) {
            case ATTENTION_PHASE -> LinearModule.Input.ATTENTION;
            case HEADS_PHASE -> LinearModule.Input.ATTENTION_OUTPUT;
            case MLP_PHASE -> LinearModule.Input.MLP;
            default -> LinearModule.Input.DOWN;
        };
    }

    @Override
    public void accumulate(int phase, Tensor input, Tensor denseInput, LayerRunner runner, TensorOps ops) {
        if (!method.recovery()) {
            run(runner, weights, statisticsTap(ops, true), input);
            return;
        }
        LinearModule.Input which = inputOf(phase);
        try (Arena scratch = Arena.ofConfined()) {
            Capture prunedCapture = new Capture(which, scratch, phase == HEADS_PHASE ? maps() : null);
            run(runner, weights, prunedCapture, input);
            Capture denseCapture = new Capture(which, scratch, null);
            run(runner, dense, denseCapture, denseInput);
            if (paired == null) {
                paired = new Paired(prunedCapture.x.cols());
            }
            paired.add(prunedCapture.x, denseCapture.x, ops);
        }
    }

    private AttentionMapSimilarity maps() {
        if (maps == null) {
            maps = new AttentionMapSimilarity(denseDims.numHeads());
        }
        return maps;
    }

    /** Copies one input of the layer (and feeds attention maps, when given) during a forward pass. */
    private static final class Capture implements LayerTap {
        private final LinearModule.Input which;
        private final Arena arena;
        private final AttentionMapSimilarity maps;
        Tensor x;

        Capture(LinearModule.Input which, Arena arena, AttentionMapSimilarity maps) {
            this.which = which;
            this.arena = arena;
            this.maps = maps;
        }

        private void take(LinearModule.Input input, Tensor t) {
            if (input == which) {
                x = t.copyAs(arena, DType.F32);
            }
        }

        @Override
        public void attentionInput(int l, Tensor t) {
            take(LinearModule.Input.ATTENTION, t);
        }

        @Override
        public void attentionOutput(int l, Tensor t) {
            take(LinearModule.Input.ATTENTION_OUTPUT, t);
        }

        @Override
        public void mlpInput(int l, Tensor t) {
            take(LinearModule.Input.MLP, t);
        }

        @Override
        public void downInput(int l, Tensor t) {
            take(LinearModule.Input.DOWN, t);
        }

        @Override
        public boolean wantsAttentionProbabilities(int l) {
            return maps != null;
        }

        @Override
        public void attentionProbabilities(int l, int head, Tensor p) {
            maps.add(head, p);
        }
    }

    /** The score statistics: o_proj-input and MLP-input Grams, and (pruning pass) the attention maps. */
    private LayerTap statisticsTap(TensorOps ops, boolean withMaps) {
        if (attentionOutput == null) {
            attentionOutput = keep(new GramStatistics(denseDims.numHeads() * headDim()));
            mlpInput = keep(new GramStatistics(method.config().hiddenSize()));
            downInput = method.score().needsDownMoments() ? new ColumnMoments(denseDims.intermediateSize()) : null;
        }
        AttentionMapSimilarity m = withMaps ? maps() : null;
        ColumnMoments down = downInput;
        return new LayerTap() {
            @Override
            public void downInput(int l, Tensor x) {
                if (down != null) {
                    down.add(x);
                }
            }

            @Override
            public void attentionOutput(int l, Tensor x) {
                attentionOutput.add(x, ops);
            }

            @Override
            public void mlpInput(int l, Tensor x) {
                mlpInput.add(x, ops);
            }

            @Override
            public boolean wantsAttentionProbabilities(int l) {
                return m != null;
            }

            @Override
            public void attentionProbabilities(int l, int head, Tensor p) {
                m.add(head, p);
            }
        };
    }

    @Override
    public List<LayerProblem> problems(int phase) {
        if (!method.recovery()) {
            return List.of(problem("heads and channels", ops -> {
                KeptUnits heads = chooseHeads(attentionOutput, ops);
                int[] channels = chooseChannels(channelScores(
                        weights, sigma(mlpInput), downInput == null ? null : downInput.meanSquare(), ops));
                compact(new KeptUnits(heads.queryHeads(), channels));
                return outcomes(errors);
            }));
        }
        Paired grams = paired;
        paired = null; // the next phase accumulates fresh Grams
        return switch (phase) {
            case ATTENTION_PHASE ->
                List.of(
                        refitInPlace(grams, LinearModule.Q),
                        refitInPlace(grams, LinearModule.K),
                        refitInPlace(grams, LinearModule.V));
            case HEADS_PHASE ->
                List.of(problem("attention units", ops -> {
                    KeptUnits heads = chooseHeads(grams.pruned, ops);
                    int[] columns = LayerSurgery.units(heads.queryHeads(), headDim());
                    RidgeRefit.Result o = grams.refit(weights.o(), columns, arena, ops);
                    errors.put(LinearModule.O, relative(o));
                    compact(new KeptUnits(heads.queryHeads(), all(weights.gate().rows())));
                    weights = withO(weights, o.weight());
                    return outcomes(errors);
                }));
            case MLP_PHASE -> {
                mlpInput = grams.pruned; // Σ of the channel scores: the MLP input after the pruned attention
                yield List.of(refitInPlace(grams, LinearModule.GATE), refitInPlace(grams, LinearModule.UP));
            }
            case CHANNELS_PHASE ->
                List.of(problem("channels", ops -> {
                    int[] channels = chooseChannels(channelScores(
                            weights,
                            sigma(mlpInput),
                            method.score().needsDownMoments() ? GoaFfnScores.meanSquare(grams.pruned) : null,
                            ops));
                    RidgeRefit.Result down = grams.refit(weights.down(), channels, arena, ops);
                    errors.put(LinearModule.DOWN, relative(down));
                    compact(new KeptUnits(all(weights.q().rows() / headDim()), channels));
                    weights = withDown(weights, down.weight());
                    return outcomes(errors);
                }));
            default -> throw new IllegalArgumentException("GOA has " + RECOVERY_PHASES + " phases, not " + (phase + 1));
        };
    }

    /**
     * The channel scores of {@code w} by the method's score; {@code downSquares} the calibration E[h_j²] of the
     * down_proj input (depth2-swiglu), replaced, as Σ is, by the random-token one in the data-free mode.
     */
    private double[] channelScores(DecoderLayerWeights w, GramStatistics sigma, double[] downSquares, TensorOps ops) {
        double[] h2 = randomTokenDownSquares != null ? randomTokenDownSquares : downSquares;
        return GoaUnitScores.channels(method.score(), w, sigma, h2, layer, method.seed(), ops);
    }

    /** The query-head scores of {@code w} by the method's score. */
    private double[] headScores(DecoderLayerWeights w, GramStatistics attentionOutputGram, TensorOps ops) {
        return GoaUnitScores.heads(
                method.score(),
                w,
                attentionOutputGram,
                headDim(),
                denseDims.numHeads() / denseDims.numKvHeads(),
                layer,
                method.seed(),
                ops);
    }

    /** The Σ of the channel scores: the random-token one in the data-free mode, else the calibration inputs'. */
    private GramStatistics sigma(GramStatistics calibration) {
        return randomTokenSigma != null ? randomTokenSigma : calibration;
    }

    /** Refits one map on all its input columns, in place (the maps of a phase are independent). */
    private LayerProblem refitInPlace(Paired grams, LinearModule module) {
        return problem(module.hfName() + " recovery", ops -> {
            Tensor w = module.weight(weights);
            try (Arena scratch = Arena.ofConfined()) {
                RidgeRefit.Result r = grams.refit(w, null, scratch, ops);
                if (r.refitted()) {
                    r.weight().copyInto(w);
                }
                synchronized (errors) {
                    errors.put(module, relative(r));
                }
            }
            return Map.of();
        });
    }

    private static double relative(RidgeRefit.Result r) {
        return Double.isNaN(r.denseEnergy()) ? Double.NaN : r.denseEnergy() > 0 ? r.error() / r.denseEnergy() : 0;
    }

    /**
     * The kept attention units: scored by output second moment and removed greedily, each time the lower-scored of the
     * two most similar attention maps ({@link AttentionMapSimilarity#greedyPrune}), until the allocated number is gone or,
     * with τ &gt; 0, while the most similar pair is closer than τ.
     */
    private KeptUnits chooseHeads(GramStatistics attentionOutputGram, TensorOps ops) {
        double[] headScores = headScores(weights, attentionOutputGram, ops);
        StructuredAllocation.LayerUnits units =
                method.units(layer, headScores, new double[denseDims.intermediateSize()]);
        int unitCount = units.headScores().length;
        int keep = allocation != null
                ? allocation.attentionUnits()
                : StructuredAllocation.uniform(List.of(units), method.sparsity(), 0)
                        .keptHeadUnits()[0]
                        .length;
        double[][] d = maps.divergence();
        int[] queryHeads;
        if (method.granularity() == HeadGranularity.KV_GROUP) {
            int perGroup = denseDims.numHeads() / denseDims.numKvHeads();
            double[][] groups = AttentionMapSimilarity.groupDivergence(d, perGroup);
            int[] keptUnits = keep == 0
                    ? new int[0]
                    : method.headThreshold() > 0
                            ? AttentionMapSimilarity.thresholdPrune(groups, units.headScores(), method.headThreshold())
                                    .kept()
                            : method.tau() > 0
                                    ? AttentionMapSimilarity.greedyPrune(
                                                    groups, units.headScores(), method.tau(), Integer.MAX_VALUE)
                                            .kept()
                                    : AttentionMapSimilarity.greedyPrune(
                                                    groups,
                                                    units.headScores(),
                                                    Double.POSITIVE_INFINITY,
                                                    unitCount - keep)
                                            .kept();
            queryHeads = HeadUnits.queryHeads(keptUnits, headScores, denseDims, method.granularity());
            headUnitsRemoved = unitCount - keptUnits.length;
        } else {
            int perGroup = unitCount; // with query heads as units, a unit is the r-th best head of every group
            queryHeads = AttentionMapSimilarity.pruneWithinGroups(d, headScores, perGroup, perGroup - keep);
            headUnitsRemoved = unitCount - keep;
        }
        return new KeptUnits(queryHeads, all(denseDims.intermediateSize()));
    }

    /** The kept channels: the allocated number (or the rest of the layer's uniform share) of the best scores. */
    private int[] chooseChannels(double[] channelScores) {
        int keep;
        if (allocation != null) {
            keep = allocation.channels();
        } else {
            StructuredAllocation.LayerUnits units =
                    method.units(layer, new double[denseDims.numHeads()], channelScores);
            keep = channelScores.length
                    - StructuredAllocation.channelsToRemove(units, method.sparsity(), headUnitsRemoved, 0);
        }
        return StructuredAllocation.keepHighest(channelScores, keep);
    }

    private LayerProblem problem(String name, Function<TensorOps, Map<LinearModule, LinearPruner.PruneOutcome>> body) {
        return LayerProblem.of(layer, name, body);
    }

    private static int[] all(int n) {
        int[] r = new int[n];
        Arrays.setAll(r, i -> i);
        return r;
    }

    private static DecoderLayerWeights withO(DecoderLayerWeights w, Tensor o) {
        return new DecoderLayerWeights(
                w.inputNorm(),
                w.q(),
                w.k(),
                w.v(),
                o,
                w.qBias(),
                w.kBias(),
                w.vBias(),
                w.oBias(),
                w.postAttentionNorm(),
                w.gate(),
                w.up(),
                w.down(),
                w.gateBias(),
                w.upBias(),
                w.downBias());
    }

    private static DecoderLayerWeights withDown(DecoderLayerWeights w, Tensor down) {
        return new DecoderLayerWeights(
                w.inputNorm(),
                w.q(),
                w.k(),
                w.v(),
                w.o(),
                w.qBias(),
                w.kBias(),
                w.vBias(),
                w.oBias(),
                w.postAttentionNorm(),
                w.gate(),
                w.up(),
                down,
                w.gateBias(),
                w.upBias(),
                w.downBias());
    }

    @Override
    protected LayerTap scoringTap(TensorOps ops) {
        return statisticsTap(ops, false);
    }

    /** The dense model's scores, for the global ranking; the pruning pass scores the pruned model's inputs afresh. */
    @Override
    public LayerScores scores(TensorOps ops) {
        LayerScores scores = new LayerScores(
                layer,
                headScores(dense, attentionOutput, ops),
                channelScores(dense, mlpInput, downInput == null ? null : downInput.meanSquare(), ops));
        attentionOutput.close();
        if (method.sigmaFromScoringPass()) {
            randomTokenSigma = mlpInput;
            randomTokenDownSquares = downInput == null ? null : downInput.meanSquare();
        } else {
            mlpInput.close();
        }
        attentionOutput = null;
        mlpInput = null;
        downInput = null;
        return scores;
    }

    @Override
    public void close() {
        for (AutoCloseable r : resources) {
            try {
                r.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the statistics of layer " + layer, e);
            }
        }
        resources.clear();
    }
}
