package dev.espalier.engine.prune;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.kernels.Tensor;

/**
 * Runs one decoder layer on a calibration sequence, in place: the device worker's forward pass, lent to a
 * {@link LayerWork} so it can feed its statistics from any version of the layer's weights (the dense original, the
 * layer as pruned so far).
 */
@FunctionalInterface
public interface LayerRunner {

    /** Applies the layer with weights {@code w} to {@code hidden} (n, hiddenSize) in place, feeding {@code tap}. */
    void run(DecoderLayerWeights w, LayerTap tap, Tensor hidden);
}
