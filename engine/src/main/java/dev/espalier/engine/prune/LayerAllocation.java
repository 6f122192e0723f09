package dev.espalier.engine.prune;

/**
 * What a global allocation gives layer {@code layer}: for structured methods how many units it keeps, attention units
 * (key/value groups, or query heads per group when query heads are the unit — see the method) and FFN channels; for
 * unstructured methods with non-uniform layer sparsity (OWL) the layer's own {@code sparsity} (NaN otherwise).
 */
public record LayerAllocation(int layer, int attentionUnits, int channels, double sparsity) {
    public LayerAllocation {
        if (attentionUnits < 0 || channels < 0) {
            throw new IllegalArgumentException(
                    "layer " + layer + ": negative allocation " + attentionUnits + "/" + channels);
        }
        if (!Double.isNaN(sparsity) && !(sparsity >= 0 && sparsity < 1)) {
            throw new IllegalArgumentException("layer " + layer + ": sparsity must be in [0, 1), got " + sparsity);
        }
    }

    /** The widths of a structured method. */
    public LayerAllocation(int layer, int attentionUnits, int channels) {
        this(layer, attentionUnits, channels, Double.NaN);
    }

    /** The sparsity of an unstructured layer. */
    public static LayerAllocation ofSparsity(int layer, double sparsity) {
        return new LayerAllocation(layer, 0, 0, sparsity);
    }

    /** Whether this is an unstructured layer's sparsity rather than widths. */
    public boolean isSparsity() {
        return !Double.isNaN(sparsity);
    }
}
