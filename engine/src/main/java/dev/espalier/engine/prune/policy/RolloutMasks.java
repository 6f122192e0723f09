package dev.espalier.engine.prune.policy;

import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.model.LlamaConfig;

/**
 * The forward-pass masks of a sampled {@link Mask}: a dropped key/value group zeroes the outputs of the query heads
 * that share it (heads g·G .. g·G + G − 1, G = numHeads / numKvHeads), a dropped FFN channel zeroes that channel, and a
 * dropped layer (layer units) zeroes every head and channel of the layer, which leaves the residual stream unchanged.
 */
public final class RolloutMasks {

    private RolloutMasks() {}

    /** One {@link LayerMask} per decoder layer of {@code config}; 1 keeps a unit, 0 drops it. */
    public static LayerMask[] of(Mask mask, LlamaConfig config) {
        LayerMask[] out = new LayerMask[config.numLayers()];
        for (int l = 0; l < out.length; l++) {
            LlamaConfig.LayerDims d = config.layer(l);
            boolean layerKept = !mask.layout().layerUnits() || mask.layer(l);
            int group = d.numHeads() / d.numKvHeads();
            float[] heads = new float[d.numHeads()];
            for (int h = 0; h < heads.length; h++) {
                heads[h] = layerKept && mask.head(l, h / group) ? 1f : 0f;
            }
            float[] channels = new float[d.intermediateSize()];
            for (int c = 0; c < channels.length; c++) {
                channels[c] = layerKept && mask.channel(l, c) ? 1f : 0f;
            }
            out[l] = new LayerMask(heads, channels);
        }
        return out;
    }
}
