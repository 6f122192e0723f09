package dev.espalier.engine.prune.structured;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.protocol.v1.StructuredSettings;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The unit importance GOA ranks by ({@code --method-option score=...}): its own output second moments and the paper's
 * data-free baselines. A higher score is kept; every score ranks FFN channels and, among the most similar pair of
 * attention units, picks the one removed ({@link AttentionMapSimilarity}). Recovery is independent of the score.
 *
 * <p>The weights of a unit (l1, l2): an FFN channel j owns gate row j, up row j and down_proj column j; a query head h
 * (head dim d) owns q rows [h·d, (h+1)·d) and o_proj columns [h·d, (h+1)·d), and a share 1/(query heads per group) of
 * its key/value head's k and v rows [g·d, (g+1)·d), so that a key/value group unit (the sum over its query heads,
 * {@link HeadUnits}) owns exactly its q, k, v rows and o columns. Biases are left out.
 * <ul>
 *   <li>{@link Score#DEPTH2_SWIGLU}, the default: channels by {@link GoaFfnScores#swigluScores}, the exact second
 *       moment of the SwiGLU channel's output; heads by {@link GoaHeadScores} (already the exact second moment of a
 *       head's output).</li>
 *   <li>{@link Score#DEPTH2}: channels by {@link GoaFfnScores#scores}, the ReLU slide formula read as the product of
 *       the gate and up branches; heads as depth2-swiglu. The default until both were measured on stories260K (README,
 *       "GOA scores"): with recovery, GOA's default, depth2-swiglu was better at 30 % and 50 % on TinyStories and
 *       WikiText-2 (14.34 / 236.4 against 14.55 / 251.2; 34.56 / 264.0 against 38.83 / 307.9); without recovery better
 *       at 30 %, worse at 50 %.</li>
 *   <li>{@link Score#DEPTH1}: data-free, the squared norm of the unit's output weights: ||W_down[:, j]||², and
 *       ||W_o,h||_F² over the head's o columns.</li>
 *   <li>{@link Score#L1}, {@link Score#L2}: data-free, Σ|w| and Σw² over the unit's weights above (l2 squared, so it
 *       adds over a group's heads; the within-layer ranking is the norm's).</li>
 *   <li>{@link Score#RANDOM}: i.i.d. uniform in [0, 1), from the job's seed and the layer (heads and channels in
 *       separate streams), the same in the scoring and the pruning pass.</li>
 * </ul>
 */
public final class GoaUnitScores {
    private GoaUnitScores() {}

    /** What a unit's importance is. */
    public enum Score {
        DEPTH2,
        DEPTH2_SWIGLU,
        DEPTH1,
        L1,
        L2,
        RANDOM;

        static Score of(StructuredSettings.Score s) {
            return switch (s) {
                case SCORE_DEPTH2 -> DEPTH2;
                case SCORE_UNSPECIFIED, SCORE_DEPTH2_SWIGLU -> DEPTH2_SWIGLU;
                case SCORE_DEPTH1 -> DEPTH1;
                case SCORE_L1 -> L1;
                case SCORE_L2 -> L2;
                case SCORE_RANDOM -> RANDOM;
                case UNRECOGNIZED -> throw new IllegalArgumentException("unknown structured.score value");
            };
        }

        /** The CLI name: depth2-swiglu. */
        public String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        /** Whether the channel score reads the down_proj input's per-channel second moment. */
        boolean needsDownMoments() {
            return this == DEPTH2_SWIGLU;
        }
    }

    /**
     * Per query head of layer {@code layer}: {@code attentionOutput} the Gram of the o_proj input (read by depth2 and
     * depth2-swiglu only), {@code headDim} d, {@code perGroup} query heads per key/value head.
     */
    static double[] heads(
            Score score,
            DecoderLayerWeights w,
            GramStatistics attentionOutput,
            int headDim,
            int perGroup,
            int layer,
            long seed,
            TensorOps ops) {
        int heads = w.q().rows() / headDim;
        double[] out = new double[heads];
        switch (score) {
            case DEPTH2, DEPTH2_SWIGLU -> {
                return GoaHeadScores.headScores(w.o(), attentionOutput, headDim, ops);
            }
            case RANDOM -> {
                return uniform(seed, layer, 0, heads);
            }
            case DEPTH1 -> {
                double[] o = ColumnNorms.squaredNorms(w.o());
                return ColumnNorms.blockSums(o, headDim);
            }
            case L1, L2 -> {
                boolean squared = score == Score.L2;
                double[] o = squared ? ColumnNorms.squaredNorms(w.o()) : ColumnNorms.absSums(w.o());
                double[] oHeads = ColumnNorms.blockSums(o, headDim);
                double[] q = ColumnNorms.blockSums(rowSums(w.q(), squared), headDim);
                double[] k = ColumnNorms.blockSums(rowSums(w.k(), squared), headDim);
                double[] v = ColumnNorms.blockSums(rowSums(w.v(), squared), headDim);
                for (int h = 0; h < heads; h++) {
                    int g = h / perGroup;
                    out[h] = q[h] + oHeads[h] + (k[g] + v[g]) / perGroup;
                }
                return out;
            }
            default -> throw new IllegalStateException(score.name());
        }
    }

    /**
     * Per FFN channel of layer {@code layer}: {@code mlpInput} the Gram of the MLP input (depth2), {@code downMeanSquare}
     * the down_proj input's mean square per column (depth2-swiglu); either may be null when the score does not read it.
     */
    static double[] channels(
            Score score,
            DecoderLayerWeights w,
            GramStatistics mlpInput,
            double[] downMeanSquare,
            int layer,
            long seed,
            TensorOps ops) {
        return switch (score) {
            case DEPTH2 ->
                GoaFfnScores.scores(w.gate(), w.up(), w.down(), mlpInput, ops).channel();
            case DEPTH2_SWIGLU -> GoaFfnScores.swigluScores(w.down(), downMeanSquare);
            case DEPTH1 -> ColumnNorms.squaredNorms(w.down());
            case L1, L2 -> {
                boolean squared = score == Score.L2;
                double[] c = squared ? ColumnNorms.squaredNorms(w.down()) : ColumnNorms.absSums(w.down());
                double[] g = rowSums(w.gate(), squared);
                double[] u = rowSums(w.up(), squared);
                for (int j = 0; j < c.length; j++) {
                    c[j] += g[j] + u[j];
                }
                yield c;
            }
            case RANDOM -> uniform(seed, layer, 1, w.down().cols());
        };
    }

    /** Σ_k |W_ik| or Σ_k W_ik² per row, (out). */
    static double[] rowSums(Tensor w, boolean squared) {
        ColumnNorms.requireMatrix(w);
        double[] out = new double[w.rows()];
        for (int r = 0; r < out.length; r++) {
            double s = 0;
            for (int c = 0; c < w.cols(); c++) {
                double v = w.getDouble(r, c);
                s += squared ? v * v : Math.abs(v);
            }
            out[r] = s;
        }
        return out;
    }

    /** n i.i.d. uniform [0, 1) draws of stream {@code stream} (0 heads, 1 channels) of layer {@code layer}. */
    static double[] uniform(long seed, int layer, int stream, int n) {
        SplittableRandom random = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (2L * layer + stream + 1)));
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = random.nextDouble();
        }
        return out;
    }
}
