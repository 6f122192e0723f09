package dev.espalier.engine.prune;

/**
 * Importance scores of one layer's structural units from a scoring pass over the dense model, for a global
 * allocation of widths: one score per attention unit (a key/value group, or a query head when query heads are the
 * unit) and one per FFN channel. Higher means more important.
 */
public record LayerScores(int layer, double[] heads, double[] channels) {
    public LayerScores {
        heads = heads.clone();
        channels = channels.clone();
    }
}
