package dev.espalier.engine.prune.structured;

import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;

/**
 * The FFN channel metric of GOA (Li, Dong, Lei, "Greedy Output Approximation: Towards Efficient Structured Pruning
 * for LLMs Without Retraining", arXiv 2407.19126): the second moment of a depth-2 module's per-channel output.
 *
 * <p>For a depth-2 module y = W_down · σ(A x) with σ = ReLU and x ~ N(0, Σ), channel j contributes
 * y_j = W_down[:, j] · ReLU(a_jᵀ x); a_jᵀx ~ N(0, a_jᵀΣa_j) is symmetric, so E[ReLU(z)²] = ½ E[z²] and
 * <pre>
 *   E ||y_j||² = ½ · ||W_down[:, j]||² · a_jᵀ Σ a_j                (exact for zero-mean Gaussian x)
 * </pre>
 * SwiGLU's channel is W_down[:, j] · silu(g_jᵀx) · (u_jᵀx); GOA scores it as two depth-2 modules sharing W_down, the
 * gate branch (a_j = gate row j) and the up branch (a_j = up row j), and takes the product of the two second moments:
 * <pre>
 *   gate_j = ½ ||W_down[:, j]||² g_jᵀΣg_j,   up_j = ½ ||W_down[:, j]||² u_jᵀΣu_j,   channel_j = gate_j · up_j
 * </pre>
 * Σ = XᵀX / N is the second moment (not the covariance) of the layer's MLP input over the calibration tokens, from
 * {@link GramStatistics} of {@code LayerTap.mlpInput}. The ReLU stands in for SiLU, which approaches it away from 0;
 * a product keeps a channel only when both branches carry energy, and any common factor (the ½, the token count)
 * leaves the ranking unchanged.
 *
 * <p>Provenance: the paper's full text could not be read from this environment (no network, not in the reference
 * corpora). The formula is the one the issue states; the quantity it is the exact second moment of (the ReLU
 * depth-2 channel under a zero-mean Gaussian with second moment Σ) was derived here and is what the unit test checks
 * by Monte Carlo. The product-of-branches rule is this code's reading, not the paper's: it is {@code score=depth2}, no
 * longer the default; the default is the exact SwiGLU second moment below, which needs no such reading.
 *
 * <p>SwiGLU's exact depth-2 second moment ({@link #swigluScores}, {@code score=depth2-swiglu}). Channel j's
 * contribution to the output is y_j = W_down[:, j] · h_j with h_j = silu(g_jᵀx) · (u_jᵀx) the j-th entry of the
 * down_proj input, a scalar per token. So
 * <pre>
 *   E ||y_j||² = E[ h_j² · W_down[:, j]ᵀ W_down[:, j] ] = ||W_down[:, j]||² · E[h_j²]
 * </pre>
 * exactly, for any input distribution and any activation: no Gaussian assumption, no ReLU for SiLU, no product of
 * branches. E[h_j²] is the mean square of the down_proj input's column j over the calibration tokens
 * ({@link ColumnMoments#meanSquare} fed by {@code LayerTap.downInput}), the same forward pass that gives Σ. Removing
 * channel j changes the output of every token by exactly −y_j, so the score is also the mean squared output change of
 * removing that one channel alone (what the unit test checks by brute force). Cross terms between removed channels
 * (E[y_jᵀ y_k]) are left out, as the per-channel depth-2 score leaves them out.
 */
public final class GoaFfnScores {
    private static final int ROW_BLOCK = 512; // rows of A per GEMM, bounds the scratch to ROW_BLOCK·hidden floats

    private GoaFfnScores() {}

    /** The two branch scores and their product, each (intermediate). */
    public record Scores(double[] gate, double[] up, double[] channel) {}

    /**
     * Scores of every channel. gate and up (intermediate, hidden), down (hidden, intermediate), any float dtype;
     * {@code mlpInput} the Gram of the MLP input with at least one token.
     */
    public static Scores scores(Tensor gate, Tensor up, Tensor down, GramStatistics mlpInput, TensorOps ops) {
        ColumnNorms.requireMatrix(down);
        double[] downNorms = ColumnNorms.squaredNorms(down);
        double[] g = branchScores(gate, downNorms, mlpInput, ops);
        double[] u = branchScores(up, downNorms, mlpInput, ops);
        double[] c = new double[g.length];
        for (int j = 0; j < c.length; j++) {
            c[j] = g[j] * u[j];
        }
        return new Scores(g, u, c);
    }

    /**
     * The SwiGLU channel's exact output second moment ||W_down[:, j]||² · E[h_j²], (intermediate): down (hidden,
     * intermediate) any float dtype, {@code h2} (intermediate) the down_proj input's mean square per column, E[h_j²]
     * ({@link ColumnMoments#meanSquare}, or the Gram's diagonal over its tokens, {@link #meanSquare}).
     */
    public static double[] swigluScores(Tensor down, double[] h2) {
        ColumnNorms.requireMatrix(down);
        ColumnNorms.requireLength(h2, down.cols(), "GOA depth2-swiglu down_proj input mean squares");
        double[] scores = ColumnNorms.squaredNorms(down);
        for (int j = 0; j < scores.length; j++) {
            scores[j] *= h2[j];
        }
        return scores;
    }

    /** The diagonal of the second moment, G_jj / N, (dim), of a Gram over at least one token. */
    public static double[] meanSquare(GramStatistics stats) {
        if (stats.tokens() == 0) {
            throw new IllegalArgumentException("GOA: a mean square needs at least one token");
        }
        double[] out = new double[stats.dim()];
        Tensor g = stats.gram();
        for (int j = 0; j < out.length; j++) {
            out[j] = g.getDouble(j, j) / stats.tokens();
        }
        return out;
    }

    /**
     * One branch: ½ · downNorms_j · a_jᵀ Σ a_j for A (intermediate, hidden), downNorms (intermediate) =
     * ||W_down[:, j]||², Σ = gram / tokens.
     */
    public static double[] branchScores(Tensor a, double[] downNorms, GramStatistics mlpInput, TensorOps ops) {
        double[] q = quadraticForms(a, mlpInput, ops);
        ColumnNorms.requireLength(downNorms, q.length, "GOA down_proj column norms");
        for (int j = 0; j < q.length; j++) {
            q[j] = 0.5 * downNorms[j] * q[j];
        }
        return q;
    }

    /** q_j = a_jᵀ Σ a_j with Σ = gram / tokens, row blocks of A times the Gram by one GEMM each; sums in f64. */
    static double[] quadraticForms(Tensor a, GramStatistics stats, TensorOps ops) {
        ColumnNorms.requireMatrix(a);
        int rows = a.rows();
        int dim = a.cols();
        if (stats.dim() != dim || stats.tokens() == 0) {
            throw new IllegalArgumentException("GOA: need a Gram of width " + dim
                    + " over at least one token, got width " + stats.dim() + " over " + stats.tokens());
        }
        double[] q = new double[rows];
        try (Arena arena = Arena.ofConfined()) {
            int block = Math.min(ROW_BLOCK, Math.max(1, rows));
            Tensor rowsF32 = Tensor.allocate(arena, DType.F32, block, dim); // (block, hidden) rows of A
            Tensor product = Tensor.allocate(arena, DType.F32, block, dim); // (block, hidden) rows of A·G
            for (int r0 = 0; r0 < rows; r0 += block) {
                int b = Math.min(block, rows - r0);
                Tensor blockA = rowsF32.rowSlice(0, b);
                Tensor blockP = product.rowSlice(0, b);
                a.rowSlice(r0, r0 + b).copyInto(blockA);
                ops.gemm(false, false, 1f, blockA, stats.gram(), 0f, blockP);
                for (int i = 0; i < b; i++) {
                    double sum = 0;
                    for (int k = 0; k < dim; k++) {
                        sum += (double) blockP.get(i, k) * blockA.get(i, k);
                    }
                    q[r0 + i] = sum / stats.tokens();
                }
            }
        }
        return q;
    }
}
