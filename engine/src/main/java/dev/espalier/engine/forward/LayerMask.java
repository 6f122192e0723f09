package dev.espalier.engine.forward;

/**
 * Structural masks of one decoder layer, applied in the forward pass without changing weights: a head's
 * attention output (the o_proj input columns of that head) and an FFN channel's activation (the down_proj input
 * column) are multiplied by their mask value. Null arrays mean "all kept".
 *
 * @param heads    (numHeads) one value per query head, usually 0 or 1
 * @param channels (intermediateSize) one value per FFN channel, usually 0 or 1
 */
public record LayerMask(float[] heads, float[] channels) {
    public static final LayerMask NONE = new LayerMask(null, null);

    public boolean isNone() {
        return heads == null && channels == null;
    }
}
