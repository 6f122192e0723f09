package dev.espalier.engine.prune;

import dev.espalier.engine.model.DecoderLayerWeights;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * A pruning method as the layer pipeline runs it, configured for one job (target sparsity, pattern, options): how
 * many accumulation phases a layer needs, whether the dense model's activations must flow beside the pruned ones,
 * whether widths are allocated globally after a scoring pass, and the {@link LayerWork} of each layer.
 */
public interface LayerMethod {

    /** The name on the command line and in reports ("wanda", "flap", …). */
    String label();

    /** One line for the log: method, target and settings. */
    String describe();

    /** Accumulation phases per layer (each a pass over the layer's calibration batches). */
    int phases();

    /** Whether each stage also receives, and passes on, the dense model's input of its layer (recovery targets). */
    boolean usesDenseStream();

    /** Whether a scoring pass over the dense model and a global allocation come before pruning. */
    boolean scoresGlobally();

    /**
     * The work of layer {@code layer}, its writable weights in {@code arena}: starting from {@code start} (the dense
     * weights, or the layer's checkpoint when {@code completed}); {@code dense} are the dense model's weights.
     */
    LayerWork open(int layer, DecoderLayerWeights dense, DecoderLayerWeights start, boolean completed, Arena arena);

    /** The widths of every layer from the scoring pass's scores (only when {@link #scoresGlobally()}). */
    default List<LayerAllocation> allocate(List<LayerScores> scores) {
        throw new UnsupportedOperationException(label() + " allocates no widths");
    }
}
