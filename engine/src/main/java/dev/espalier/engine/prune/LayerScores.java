package dev.espalier.engine.prune;

/**
 * Scores of one layer from a scoring pass over the dense model, for a global allocation: structured methods give one
 * score per attention unit (a key/value group, or a query head when query heads are the unit) and one per FFN channel
 * (higher means more important); OWL gives the layer's outlier ratio ({@link OwlAllocation}; NaN otherwise).
 */
public record LayerScores(int layer, double[] heads, double[] channels, double outlierRatio) {
    public LayerScores {
        heads = heads.clone();
        channels = channels.clone();
    }

    /** Unit scores of a structured method. */
    public LayerScores(int layer, double[] heads, double[] channels) {
        this(layer, heads, channels, Double.NaN);
    }

    /** OWL's outlier ratio of the layer. */
    public static LayerScores outliers(int layer, double outlierRatio) {
        return new LayerScores(layer, new double[0], new double[0], outlierRatio);
    }
}
