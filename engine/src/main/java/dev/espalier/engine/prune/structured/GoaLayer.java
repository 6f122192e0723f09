package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * Greedy output approximation (Li, Dong, Lei, arXiv 2407.19126) on one layer. Attention units are scored by their
 * output second moment ({@link GoaHeadScores}) and pruned greedily among the most similar pair of attention maps
 * ({@link AttentionMapSimilarity#greedyPrune}: below τ, or until the allocated number is gone), or with
 * {@code head_graph=threshold} by the components of the threshold graph ({@link AttentionMapSimilarity#thresholdPrune});
 * FFN channels by the depth-2 second moment ({@link GoaFfnScores}). {@code score=...} swaps the scores of both for
 * another importance ({@link GoaUnitScores}).
 *
 * <p>With recovery, the four phases of {@link RecoveringLayer}: the attention units are chosen on the refit attention's
 * outputs and maps, the channels on the MLP input after the pruned attention.
 *
 * <p>Without recovery one pass over the pruned model's inputs feeds the scores and the layer is compacted at once.
 */
final class GoaLayer extends RecoveringLayer {
    private GramStatistics attentionOutput; // Σ zᵀz of the o_proj input (head scores)
    private GramStatistics mlpInput; // Σ xᵀx of the gate/up input (Σ of the channel scores)
    private AttentionMapSimilarity maps;
    private GramStatistics randomTokenSigma; // data-free: Σ xᵀx of the MLP input of the dense model on random token ids
    private ColumnMoments downInput; // depth2-swiglu without recovery: the down_proj input's moments (channel scores)
    private double[] randomTokenDownSquares; // data-free depth2-swiglu: E[h_j²] of the dense model on random token ids

    GoaLayer(StructuredMethod method, int layer, DecoderLayerWeights dense, DecoderLayerWeights start, Arena arena) {
        super(method, layer, dense, start, arena);
    }

    @Override
    public void accumulate(int phase, Tensor input, Tensor denseInput, LayerRunner runner, TensorOps ops) {
        if (!method.recovery()) {
            run(runner, weights, statisticsTap(ops, true), input);
            return;
        }
        accumulateRecovery(phase, input, denseInput, runner, ops);
    }

    @Override
    protected AttentionMapSimilarity recoveryMaps() {
        return maps();
    }

    private AttentionMapSimilarity maps() {
        if (maps == null) {
            maps = new AttentionMapSimilarity(denseDims.numHeads());
        }
        return maps;
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
                int[] channels = bestChannels(channelScores(
                        weights, sigma(mlpInput), downInput == null ? null : downInput.meanSquare(), ops));
                compact(new KeptUnits(heads.queryHeads(), channels));
                return outcomes(errors);
            }));
        }
        return recoveryProblems(phase);
    }

    @Override
    protected int[] recoveryHeads(PhaseInputs attentionOutput, TensorOps ops) {
        return chooseHeads(attentionOutput.pruned, ops).queryHeads();
    }

    @Override
    protected void mlpInputGathered(GramStatistics prunedMlpInput) {
        mlpInput = prunedMlpInput; // Σ of the channel scores: the MLP input after the pruned attention
    }

    @Override
    protected int[] recoveryChannels(PhaseInputs downInput, TensorOps ops) {
        return bestChannels(channelScores(
                weights,
                sigma(mlpInput),
                method.score().needsDownMoments() ? GoaFfnScores.meanSquare(downInput.pruned) : null,
                ops));
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
        int keep = attentionUnitsToKeep(units);
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
}
