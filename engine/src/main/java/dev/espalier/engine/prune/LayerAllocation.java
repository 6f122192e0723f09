package dev.espalier.engine.prune;

/**
 * How many units layer {@code layer} keeps: attention units (key/value groups, or query heads per group when query
 * heads are the unit — see the method) and FFN channels.
 */
public record LayerAllocation(int layer, int attentionUnits, int channels) {
    public LayerAllocation {
        if (attentionUnits < 0 || channels < 0) {
            throw new IllegalArgumentException(
                    "layer " + layer + ": negative allocation " + attentionUnits + "/" + channels);
        }
    }
}
