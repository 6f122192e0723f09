package dev.espalier.engine.prune.structured;

import dev.espalier.kernels.Tensor;

/**
 * FLAP (An et al., "Fluctuation-based Adaptive Structured Pruning for Large Language Models", AAAI 2024; official
 * code CASIA-IVA-Lab/FLAP lib/prune.py {@code prune_flap}, {@code compress}, lib/layerwrapper.py {@code BiasGPT}).
 *
 * <p>Column metrics of o_proj and down_proj W (out, in), with f_j the fluctuation (variance over tokens) of input
 * column j and m_j its mean square:
 * <pre>
 *   IFV  = f_j
 *   WIFV = f_j · ||W[:, j]||²                (the default)
 *   WIFN = mean_i |W_ij| · sqrt(m_j)
 * </pre>
 * Adaptive structure (AL-AM, the paper's default): for attention, the column metric is <em>squared</em>, standardised
 * over the layer's heads·headDim columns ((x − mean)/std, unbiased std), then averaged over each head's columns:
 * head_h = mean_{j in h} z(metric²)_j. For the FFN, channel_j = z(metric)_j over the layer's channels. All layers'
 * heads and channels are then ranked together, weighted by the parameters they hold
 * ({@link StructuredAllocation#global} with {@code standardise = false}; for a KV group the score is the mean of its
 * query heads', its weight (2·perGroup + 2)·headDim·hidden against 3·hidden per channel — FLAP's 512/3 for MHA at
 * headDim 128).
 *
 * <p>Uniform structure (UL-UM): head_h = Σ_{j in h} metric²_j, channel_j = metric_j, no standardisation, selected per
 * layer ({@link StructuredAllocation#uniform}).
 *
 * <p>Bias compensation ({@code compress}): the pruned inputs are replaced by their calibration mean, giving o_proj and
 * down_proj the bias b = W[:, pruned] · x̄[pruned], (out) ({@link LayerSurgery#compensation}).
 */
public final class FlapScores {
    private FlapScores() {}

    /** The metrics of FLAP's {@code metrics} dictionary. */
    public enum Metric {
        IFV,
        WIFV,
        WIFN
    }

    /**
     * Column metric of W (out, in) over the inputs summarised by {@code moments}. {@code fluctuation} is f (in), e.g.
     * {@link ColumnMoments#sampleVariance} or, to reproduce the official numbers, {@link ColumnMoments#flapFluctuation}.
     */
    public static double[] columnMetric(Metric metric, Tensor weight, ColumnMoments moments, double[] fluctuation) {
        ColumnNorms.requireMatrix(weight);
        int in = weight.cols();
        ColumnNorms.requireLength(fluctuation, in, "FLAP fluctuation");
        if (moments.dim() != in) {
            throw new IllegalArgumentException(
                    "FLAP: moments of width " + moments.dim() + " for a weight with " + in + " inputs");
        }
        double[] out = new double[in];
        switch (metric) {
            case IFV -> System.arraycopy(fluctuation, 0, out, 0, in);
            case WIFV -> {
                double[] norms = ColumnNorms.squaredNorms(weight);
                for (int j = 0; j < in; j++) {
                    out[j] = fluctuation[j] * norms[j];
                }
            }
            case WIFN -> {
                double[] abs = ColumnNorms.absSums(weight);
                double[] meanSquare = moments.meanSquare();
                for (int j = 0; j < in; j++) {
                    out[j] = abs[j] / weight.rows() * Math.sqrt(meanSquare[j]);
                }
            }
        }
        return out;
    }

    /** AL-AM query-head scores: head_h = mean over the head's columns of z(metric²), z over all the layer's columns. */
    public static double[] adaptiveHeadScores(double[] oProjColumnMetric, int headDim) {
        double[] squared = new double[oProjColumnMetric.length];
        for (int j = 0; j < squared.length; j++) {
            squared[j] = oProjColumnMetric[j] * oProjColumnMetric[j];
        }
        double[] sums = ColumnNorms.blockSums(StructuredAllocation.standardised(squared), headDim);
        for (int h = 0; h < sums.length; h++) {
            sums[h] /= headDim;
        }
        return sums;
    }

    /** AL-AM channel scores: z(metric) over the layer's channels. */
    public static double[] adaptiveChannelScores(double[] downProjColumnMetric) {
        return StructuredAllocation.standardised(downProjColumnMetric);
    }

    /** UL-UM query-head scores: head_h = Σ over the head's columns of metric². */
    public static double[] uniformHeadScores(double[] oProjColumnMetric, int headDim) {
        double[] squared = new double[oProjColumnMetric.length];
        for (int j = 0; j < squared.length; j++) {
            squared[j] = oProjColumnMetric[j] * oProjColumnMetric[j];
        }
        return ColumnNorms.blockSums(squared, headDim);
    }
}
