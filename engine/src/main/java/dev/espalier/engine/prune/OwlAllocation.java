package dev.espalier.engine.prune;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.kernels.Tensor;

/**
 * OWL, Outlier Weighed Layerwise sparsity (Yin et al., ICML 2024; official code luuyin/OWL, {@code lib/prune_all.py},
 * {@code prune_wanda_outlier} with {@code check_outlier_mean}): non-uniform per-layer sparsities for an unstructured
 * method, from a scoring pass over the dense model.
 *
 * <ol>
 *   <li>Outlier ratio of layer l ({@link #outlierRatio}): the Wanda metric A_ij = |W_ij| · ||X_j||₂ of all seven
 *       linear maps of the dense layer, on the dense model's calibration inputs of that layer, concatenated into one
 *       vector (the official {@code torch.cat} of every map's metric); D_l = #{A > M · mean(A)} / #A, the mean taken
 *       over the whole layer, not per matrix. (The official code reports D_l in percent; the mapping below does not
 *       depend on the scale.)
 *   <li>Mapping ({@link #sparsities}): r_l = (D_l − min D) / (max D − min D) · 2λ, then r_l ← r_l − mean(r) + (1 − s)
 *       is layer l's keep ratio and 1 − r_l its sparsity. So the rates average to the target s exactly (up to
 *       rounding), the layer with the most outliers is pruned least, and max − min of the rates is 2λ; each rate lies
 *       within s ± 2λ(L − 1)/L (within [s − λ, s + λ] only when the ratios are spread evenly: the official mapping
 *       centres the mean, not the range).
 * </ol>
 *
 * Defaults are the official scripts' ({@code --Hyper_m 5 --Lamda 0.08} in the README's commands; the argparse
 * default of {@code Hyper_m} is 3). Deviations: when every layer has the same outlier ratio the official code divides
 * by zero (NaN rates); here every layer takes the target. The official clamp of a rate ≤ 0 to 0.01 never applies:
 * JobSpecs refuses a λ for which a rate could leave [0, 1). The metric is computed in f64 (official: the model's
 * dtype).
 *
 * @param m outlier threshold multiple M, > 0
 * @param lambda λ, the half-spread of the layer rates, ≥ 0
 */
public record OwlAllocation(double m, double lambda) {
    public static final double DEFAULT_M = 5;
    public static final double DEFAULT_LAMBDA = 0.08;

    public OwlAllocation {
        if (!(m > 0) || Double.isInfinite(m) || !(lambda >= 0) || Double.isInfinite(lambda)) {
            throw new IllegalArgumentException("OWL needs M > 0 and λ ≥ 0, finite, got M " + m + ", λ " + lambda);
        }
    }

    /**
     * The fraction of the Wanda metric entries of {@code dense}'s seven maps above M times their mean;
     * {@code squaredNorms} is Σ over calibration tokens of x_j² for each map input (the scale of the norms does not
     * matter: a common factor scales the mean and the entries alike).
     */
    public double outlierRatio(DecoderLayerWeights dense, InputNorms squaredNorms) {
        double sum = 0;
        long count = 0;
        for (LinearModule module : LinearModule.values()) {
            sum += metric(module.weight(dense), squaredNorms.of(module.input()), Double.NaN);
            count += module.weight(dense).numel();
        }
        double threshold = m * (sum / count);
        double outliers = 0;
        for (LinearModule module : LinearModule.values()) {
            outliers += metric(module.weight(dense), squaredNorms.of(module.input()), threshold);
        }
        return outliers / count;
    }

    /**
     * Over the entries A_ij = |W_ij| · ||X_j||₂ of one map: their sum when {@code threshold} is NaN, else how many
     * exceed it (a pass over W without storing A).
     */
    private static double metric(Tensor w, double[] squaredNorms, double threshold) {
        int rows = w.rows();
        int cols = w.cols();
        if (squaredNorms.length != cols) {
            throw new IllegalArgumentException(
                    "input norms of width " + squaredNorms.length + " for a weight of " + cols + " columns");
        }
        double[] norms = new double[cols];
        for (int c = 0; c < cols; c++) {
            norms[c] = Math.sqrt(squaredNorms[c]);
        }
        boolean sum = Double.isNaN(threshold);
        double out = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double a = Math.abs(w.getDouble(r, c)) * norms[c];
                out += sum ? a : (a > threshold ? 1 : 0);
            }
        }
        return out;
    }

    /** Each layer's sparsity from the layers' outlier ratios, for target sparsity {@code target} (see the class). */
    public double[] sparsities(double[] outlierRatios, double target) {
        int n = outlierRatios.length;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double d : outlierRatios) {
            min = Math.min(min, d);
            max = Math.max(max, d);
        }
        double[] keep = new double[n];
        if (max > min) {
            for (int l = 0; l < n; l++) {
                keep[l] = (outlierRatios[l] - min) * (1 / (max - min) * lambda * 2);
            }
        }
        double mean = 0;
        for (double r : keep) {
            mean += r;
        }
        mean /= n;
        double[] out = new double[n];
        for (int l = 0; l < n; l++) {
            out[l] = 1 - (keep[l] - mean + (1 - target));
            if (!(out[l] >= 0 && out[l] < 1)) {
                throw new IllegalArgumentException("OWL: layer " + l + " would get sparsity " + out[l] + " (target "
                        + target + ", λ " + lambda + "); choose a smaller λ");
            }
        }
        return out;
    }

    /** Σ over calibration tokens of x_j² for each distinct map input of a layer. */
    public interface InputNorms {
        double[] of(LinearModule.Input input);
    }
}
