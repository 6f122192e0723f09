package dev.espalier.engine.prune.structured;

import dev.espalier.kernels.Tensor;

/**
 * Wanda-sp, the structured Wanda baseline of FLAP ({@code prune_wanda_sp} in CASIA-IVA-Lab/FLAP lib/prune.py). For
 * o_proj (hidden, heads·headDim) and down_proj (hidden, intermediate), with X_j the j-th input column over all
 * calibration tokens:
 * <pre>
 *   s_j     = (1/out) · Σ_i |W_ij| · ||X_j||₂          column score: the Wanda score averaged over output rows
 *   head_h  = Σ_{j in head h} s_j                        sum over the head's headDim columns
 *   channel = s_j                                        per down_proj input column
 * </pre>
 * FLAP's {@code WrappedGPT.scaler_row} is Σx² divided by the number of calibration sequences, which only scales every
 * score of a module by one constant; ||X_j||² here is the raw sum ({@link ColumnMoments#squaredNorm}), so the
 * per-layer ranking is the same. Selection is per layer ({@link StructuredAllocation#uniform}): FLAP removes
 * ⌊s·heads⌋ heads and ⌊s·intermediate⌋ channels; the allocation here removes ⌊s·units⌋ attention units and then
 * as many channels as make the layer's removed parameters reach s·P ({@link StructuredAllocation#channelsToRemove}),
 * which for MHA is never fewer.
 */
public final class WandaSpScores {
    private WandaSpScores() {}

    /** s_j = mean_i |W_ij| · sqrt(squaredNorm_j) for W (out, in) and squaredNorm (in). */
    public static double[] columnScores(Tensor weight, double[] squaredNorm) {
        ColumnNorms.requireMatrix(weight);
        ColumnNorms.requireLength(squaredNorm, weight.cols(), "Wanda-sp squared norms");
        double[] abs = ColumnNorms.absSums(weight);
        double[] out = new double[abs.length];
        for (int j = 0; j < out.length; j++) {
            out[j] = abs[j] / weight.rows() * Math.sqrt(squaredNorm[j]);
        }
        return out;
    }

    /** Query-head scores of o_proj: the sum of {@link #columnScores} over each head's headDim columns. */
    public static double[] headScores(Tensor oProj, ColumnMoments attentionOutput, int headDim) {
        return ColumnNorms.blockSums(columnScores(oProj, attentionOutput.squaredNorm()), headDim);
    }

    /** Channel scores of down_proj: {@link #columnScores} of its input columns. */
    public static double[] channelScores(Tensor downProj, ColumnMoments downInput) {
        return columnScores(downProj, downInput.squaredNorm());
    }
}
