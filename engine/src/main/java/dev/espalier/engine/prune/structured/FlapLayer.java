package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Map;

/**
 * FLAP on one layer (CASIA-IVA-Lab/FLAP {@code prune_flap}): the fluctuation of every o_proj and down_proj input
 * column over the calibration tokens, weighted by the column's squared norm (WIFV), scores heads and channels; the
 * removed columns' mean contribution is folded into the o_proj / down_proj biases. With global widths (FLAP's
 * adaptive structure, the default) the statistics come from the scoring pass over the dense model, as in the official
 * code, and the pruning pass only applies them; with uniform widths they come from the pruned model's inputs, layer
 * by layer, and the scores are FLAP's UL-UM ones.
 *
 * <p>With recovery ({@link RecoveringLayer}), the same metric chooses the heads on the o_proj input of the pruned stream
 * after q, k, v are refit, and the channels on its down_proj input after the attention is pruned and gate, up refit;
 * in place of the removed columns' mean, each refit projection gets the least-squares bias given its refit weight
 * ({@link RecoveringLayer#outputBias}), which is the compensation's aim once the kept columns are refit too.
 *
 * <p>Deviation: the fluctuation is the sample variance of each column over all tokens
 * ({@link ColumnMoments#sampleVariance}), not the official per-sequence recurrence, which drops the first batch
 * (see {@link ColumnMoments}); scores are standardised per layer, so the recurrence's scale does not matter.
 */
final class FlapLayer extends RecoveringLayer {
    private final ProjectionInputMoments statistics;

    FlapLayer(StructuredMethod method, int layer, DecoderLayerWeights dense, DecoderLayerWeights start, Arena arena) {
        super(method, layer, dense, start, arena);
        this.statistics = new ProjectionInputMoments(denseDims, headDim());
    }

    private double[] oMetric(DecoderLayerWeights w) {
        return oMetric(w, statistics.attention);
    }

    private double[] downMetric(DecoderLayerWeights w) {
        return downMetric(w, statistics.down);
    }

    private static double[] oMetric(DecoderLayerWeights w, ColumnMoments attentionOutput) {
        return FlapScores.columnMetric(
                FlapScores.Metric.WIFV, w.o(), attentionOutput, attentionOutput.sampleVariance());
    }

    private static double[] downMetric(DecoderLayerWeights w, ColumnMoments downInput) {
        return FlapScores.columnMetric(FlapScores.Metric.WIFV, w.down(), downInput, downInput.sampleVariance());
    }

    private boolean global() {
        return method.allocation() == StructuredMethod.Allocation.GLOBAL;
    }

    @Override
    public void accumulate(int phase, Tensor input, Tensor denseInput, LayerRunner runner, TensorOps ops) {
        if (method.recovery()) {
            accumulateRecovery(phase, input, denseInput, runner, ops);
        } else if (!global()) {
            run(runner, weights, statistics, input);
        }
    }

    @Override
    public List<LayerProblem> problems(int phase) {
        if (method.recovery()) {
            return recoveryProblems(phase);
        }
        return List.of(LayerProblem.of(layer, "heads and channels", ops -> {
            KeptUnits kept = global()
                    ? select(
                            FlapScores.adaptiveHeadScores(oMetric(weights), headDim()),
                            FlapScores.adaptiveChannelScores(downMetric(weights)))
                    : select(FlapScores.uniformHeadScores(oMetric(weights), headDim()), downMetric(weights));
            float[] attentionBias = LayerSurgery.compensation(
                    weights.o(),
                    LayerSurgery.removedHeadColumns(denseDims, headDim(), kept),
                    statistics.attention.mean());
            float[] mlpBias = LayerSurgery.compensation(
                    weights.down(), LayerSurgery.removedChannels(denseDims, kept), statistics.down.mean());
            compact(kept);
            weights = LayerSurgery.addOutputBiases(weights, attentionBias, mlpBias, arena);
            return outcomes(Map.of());
        }));
    }

    @Override
    protected int[] recoveryHeads(PhaseInputs attentionOutput, TensorOps ops) {
        double[] metric = oMetric(weights, attentionOutput.prunedMoments);
        return bestHeads(
                global()
                        ? FlapScores.adaptiveHeadScores(metric, headDim())
                        : FlapScores.uniformHeadScores(metric, headDim()));
    }

    @Override
    protected int[] recoveryChannels(PhaseInputs downInput, TensorOps ops) {
        double[] metric = downMetric(weights, downInput.prunedMoments);
        return bestChannels(global() ? FlapScores.adaptiveChannelScores(metric) : metric);
    }

    @Override
    protected boolean compensatesBias() {
        return true;
    }

    @Override
    protected LayerTap scoringTap(TensorOps ops) {
        return statistics;
    }

    @Override
    public LayerScores scores(TensorOps ops) {
        return new LayerScores(
                layer,
                FlapScores.adaptiveHeadScores(oMetric(dense), headDim()),
                FlapScores.adaptiveChannelScores(downMetric(dense)));
    }
}
