package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * Recovery of a layer whose kept units are given, not scored ({@link MaskRecovery}: policy-gradient's learned masks):
 * the four phases of {@link RecoveringLayer}, with the heads and channels phases keeping exactly {@code given}.
 */
final class GivenUnitsLayer extends RecoveringLayer {
    private final KeptUnits given; // in the dense layer's numbering

    GivenUnitsLayer(
            StructuredMethod settings,
            int layer,
            DecoderLayerWeights dense,
            DecoderLayerWeights start,
            KeptUnits given,
            Arena arena) {
        super(settings, layer, dense, start, arena);
        this.given = given;
    }

    @Override
    public void accumulate(int phase, Tensor input, Tensor denseInput, LayerRunner runner, TensorOps ops) {
        accumulateRecovery(phase, input, denseInput, runner, ops);
    }

    @Override
    public List<LayerProblem> problems(int phase) {
        return recoveryProblems(phase);
    }

    /** The given heads: the attention is not compacted before this phase, so the dense numbering is the current one. */
    @Override
    protected int[] recoveryHeads(PhaseInputs attentionOutput, TensorOps ops) {
        return given.queryHeads();
    }

    /** The given channels: the FFN is not compacted before this phase. */
    @Override
    protected int[] recoveryChannels(PhaseInputs downInput, TensorOps ops) {
        return given.channels();
    }

    @Override
    protected LayerTap scoringTap(TensorOps ops) {
        throw new UnsupportedOperationException("layer " + layer + ": given keep sets have no scoring pass");
    }
}
