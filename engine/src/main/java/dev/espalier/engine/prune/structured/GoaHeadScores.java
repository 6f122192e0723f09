package dev.espalier.engine.prune.structured;

import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;

/**
 * GOA's output second moment of each attention head (the V–O depth-2 module of arXiv 2407.19126): with z_h (n, d) the
 * head's output (its block of the o_proj input) and W_o,h = W_o[:, h·d .. (h+1)·d) (hidden, d),
 * <pre>
 *   E ||W_o,h z_h||² = tr(W_o,h Σ_h W_o,hᵀ),   Σ_h = (Z_hᵀ Z_h) / N  the (d, d) diagonal block of the o_proj-input
 *                                              second moment
 * </pre>
 * read from the Gram of {@code LayerTap.attentionOutput}. A key/value group's score is the sum over its query heads
 * (the cross terms between heads are left out, as the per-head score leaves them out).
 */
public final class GoaHeadScores {
    private GoaHeadScores() {}

    /** Per query head, tr(W_o,h Σ_h W_o,hᵀ): oProj (hidden, heads·headDim), any float dtype. */
    public static double[] headScores(Tensor oProj, GramStatistics attentionOutput, int headDim, TensorOps ops) {
        ColumnNorms.requireMatrix(oProj);
        int width = oProj.cols();
        if (headDim <= 0 || width % headDim != 0 || attentionOutput.dim() != width || attentionOutput.tokens() == 0) {
            throw new IllegalArgumentException("GOA heads: o_proj " + oProj + ", headDim " + headDim
                    + ", Gram of width " + attentionOutput.dim() + " over " + attentionOutput.tokens() + " tokens");
        }
        int heads = width / headDim;
        int out = oProj.rows();
        double[] scores = new double[heads];
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.allocate(arena, DType.F32, out, headDim); // (hidden, d) W_o,h
            Tensor block = Tensor.allocate(arena, DType.F32, headDim, headDim); // (d, d) Σ_h · N
            Tensor product = Tensor.allocate(arena, DType.F32, out, headDim); // (hidden, d) W_o,h · block
            Tensor gram = attentionOutput.gram();
            for (int h = 0; h < heads; h++) {
                int c0 = h * headDim;
                oProj.columnSlice(c0, c0 + headDim).copyInto(w);
                gram.rowSlice(c0, c0 + headDim).columnSlice(c0, c0 + headDim).copyInto(block);
                ops.gemm(false, false, 1f, w, block, 0f, product);
                double sum = 0;
                for (int i = 0; i < out; i++) {
                    for (int k = 0; k < headDim; k++) {
                        sum += (double) product.get(i, k) * w.get(i, k);
                    }
                }
                scores[h] = sum / attentionOutput.tokens();
            }
        }
        return scores;
    }

    /** Key/value group scores: the sum over each group's perGroup consecutive query heads. */
    public static double[] groupScores(double[] headScores, int perGroup) {
        return ColumnNorms.blockSums(headScores, perGroup);
    }
}
