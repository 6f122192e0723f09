package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Map;

/**
 * Wanda-sp on one layer (FLAP's {@code prune_wanda_sp}): the column norms of the o_proj and down_proj inputs are
 * accumulated in one pass of the layer's inputs from the already pruned layers, then heads and channels are scored by
 * {@link WandaSpScores} and the lowest go; no bias compensation. With global widths, a scoring pass over the dense
 * model ranks the units first.
 *
 * <p>With recovery ({@link RecoveringLayer}), the same scores choose the heads on the o_proj input after q, k, v are
 * refit, and the channels on the down_proj input after the attention is pruned and gate, up refit.
 */
final class WandaSpLayer extends RecoveringLayer {
    private final ProjectionInputMoments pruned;
    private ProjectionInputMoments scoring;

    WandaSpLayer(
            StructuredMethod method, int layer, DecoderLayerWeights dense, DecoderLayerWeights start, Arena arena) {
        super(method, layer, dense, start, arena);
        this.pruned = new ProjectionInputMoments(denseDims, headDim());
    }

    private double[] headScores(ProjectionInputMoments m, DecoderLayerWeights w) {
        return WandaSpScores.headScores(w.o(), m.attention, headDim());
    }

    private double[] channelScores(ProjectionInputMoments m, DecoderLayerWeights w) {
        return WandaSpScores.channelScores(w.down(), m.down);
    }

    @Override
    public void accumulate(int phase, Tensor input, Tensor denseInput, LayerRunner runner, TensorOps ops) {
        if (method.recovery()) {
            accumulateRecovery(phase, input, denseInput, runner, ops);
        } else {
            run(runner, weights, pruned, input);
        }
    }

    @Override
    public List<LayerProblem> problems(int phase) {
        if (method.recovery()) {
            return recoveryProblems(phase);
        }
        return List.of(LayerProblem.of(layer, "heads and channels", ops -> {
            compact(select(headScores(pruned, weights), channelScores(pruned, weights)));
            return outcomes(Map.of());
        }));
    }

    @Override
    protected int[] recoveryHeads(PhaseInputs attentionOutput, TensorOps ops) {
        return bestHeads(WandaSpScores.headScores(weights.o(), attentionOutput.prunedMoments, headDim()));
    }

    @Override
    protected int[] recoveryChannels(PhaseInputs downInput, TensorOps ops) {
        return bestChannels(WandaSpScores.channelScores(weights.down(), downInput.prunedMoments));
    }

    @Override
    protected LayerTap scoringTap(TensorOps ops) {
        if (scoring == null) {
            scoring = new ProjectionInputMoments(denseDims, headDim());
        }
        return scoring;
    }

    @Override
    public LayerScores scores(TensorOps ops) {
        return new LayerScores(layer, headScores(scoring, dense), channelScores(scoring, dense));
    }
}
