package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.NotPositiveDefiniteException;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * SparseGPT (Frantar and Alistarh, 2023): one-shot pruning of a linear map y = x·Wᵀ by approximate optimal brain
 * surgeon updates, following {@code fasterprune} of IST-DASLab/sparsegpt. With H = (2 / tokens) · Σ xᵀx:
 * <ol>
 *   <li>dead inputs (H_ii = 0) get H_ii = 1 and W[:, i] = 0; λ = percDamp · mean(diag H) is added to the diagonal;</li>
 *   <li>U is the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU);</li>
 *   <li>columns are processed left to right in blocks of {@code blockSize}. Unstructured: at the start of a block the
 *       weights of the block with the smallest w²/U_jj² over all rows together are marked, exactly
 *       ⌊rows · blockWidth · sparsity⌋ of them. N:M: at every column i with i % M = 0, each row marks its M − N
 *       smallest w²/U_jj² among columns i..i+M−1. Column i then becomes q = w with marked weights at exactly 0,
 *       err = (w − q) / U_ii, and the later columns j of the block get w_j −= err · U_ij; after the block, the
 *       columns right of it get W[:, rest] −= Err · U[block, rest] (one GEMM).</li>
 * </ol>
 *
 * <p>Differences from the official code, none of which changes the method: the mask of an unstructured block drops
 * exactly ⌊rows · width · sparsity⌋ weights (the official threshold test {@code score <= sorted[k]} drops k + 1 and
 * any ties), ties going to the earlier column, then the earlier row; the scale 2 / tokens (the official code divides
 * by the number of sequences) cancels out of every step, damping included; U is computed without forming H⁻¹, from
 * the Cholesky factor of the reversed matrix ({@link #inverseFactor}); inside a block, the rank-1 updates are fused
 * multiply-adds (one rounding each, where the official code rounds the product and the difference), applied by the
 * backend's kernel {@link TensorOps#obsSweep} (see {@link Sweep}). Everything is f32, like the official code; only the mean of the
 * diagonal is in f64.
 */
public final class SparseGpt {
    /** Block rows of the triangular inversion in {@link #invertLower}. */
    static final int INVERSE_BLOCK = 256;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private SparseGpt() {}

    /**
     * The solver's parameters, with the paper's defaults in {@link #defaults()}.
     *
     * @param blockSize columns per lazy block (128); for N:M a multiple of M
     * @param percDamp  dampening λ = percDamp · mean(diag H) added to H's diagonal (0.01)
     */
    public record Options(int blockSize, double percDamp) {
        public Options {
            if (blockSize <= 0) {
                throw new IllegalArgumentException("SparseGpt.Options: blockSize must be positive, got " + blockSize);
            }
            if (!(percDamp >= 0) || Double.isInfinite(percDamp)) {
                throw new IllegalArgumentException(
                        "SparseGpt.Options: percDamp must be finite and ≥ 0, got " + percDamp);
            }
        }

        /** blockSize 128, percDamp 0.01, as in {@code fasterprune}. */
        public static Options defaults() {
            return new Options(128, 0.01);
        }
    }

    /**
     * Prunes {@code weight} in place by SparseGPT (see the class comment) and returns the zeros it now holds.
     *
     * @param weight   W (out, in), F32, writable; on return pruned weights are exactly 0 and the others updated
     * @param gram     the raw Σ xᵀx (in, in) F32 contiguous, e.g. {@link GramStatistics#gram()}; not modified
     * @param tokens   the rows summed into {@code gram} (&gt; 0)
     * @param pattern  unstructured or N:M (in and blockSize multiples of M)
     * @param sparsity the fraction to drop, in [0, 1) for unstructured (0 leaves W unchanged up to dead inputs);
     *                 for N:M 1 − N/M or NaN
     */
    public static LinearPruner.PruneOutcome prune(
            Tensor weight,
            Tensor gram,
            long tokens,
            SparsityPattern pattern,
            double sparsity,
            Options o,
            TensorOps ops) {
        int out = check(weight, gram, tokens, pattern, sparsity, o);
        int in = weight.cols();
        float scale = (float) (2.0 / tokens);
        boolean[] dead = new boolean[in]; // (in): H_ii == 0
        MemorySegment gs = gram.data();
        for (int i = 0; i < in; i++) {
            dead[i] = gs.getAtIndex(F32, (long) i * in + i) == 0f;
            if (dead[i]) {
                for (int r = 0; r < out; r++) {
                    weight.set(r, i, 0.0);
                }
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor u = inverseFactor(gram, scale, dead, o.percDamp(), arena, ops); // (in, in) upper, H⁻¹ = UᵀU
            float[] diag = new float[in]; // (in): U_jj
            for (int j = 0; j < in; j++) {
                diag[j] = u.get(j, j);
            }
            new Sweep(weight, u, diag, pattern, sparsity, Math.min(o.blockSize(), in), arena, ops).run();
        }
        return LinearPruner.zerosOf(weight, ops);
    }

    /** Validates the arguments; returns the output width. */
    private static int check(
            Tensor weight, Tensor gram, long tokens, SparsityPattern pattern, double sparsity, Options o) {
        if (weight.rank() != 2 || weight.dtype() != DType.F32) {
            throw new IllegalArgumentException(
                    "SparseGpt.prune: weight must be an F32 matrix (out, in), got " + weight);
        }
        int in = weight.cols();
        if (gram.rank() != 2
                || gram.rows() != in
                || gram.cols() != in
                || gram.dtype() != DType.F32
                || !gram.isContiguous()) {
            throw new IllegalArgumentException("SparseGpt.prune: gram must be a contiguous F32 (" + in + ", " + in
                    + ") matrix for weight " + weight + ", got " + gram);
        }
        if (tokens <= 0) {
            throw new IllegalArgumentException("SparseGpt.prune: the Gram must sum at least one token, got " + tokens);
        }
        if (pattern.isNm()) {
            pattern.validate(sparsity);
            int m = pattern.group();
            if (o.blockSize() % m != 0) {
                throw new IllegalArgumentException("SparseGpt.prune: N:M pattern " + pattern + " needs a blockSize ("
                        + o.blockSize() + ") divisible by " + m);
            }
        } else if (!(sparsity >= 0 && sparsity < 1)) {
            throw new IllegalArgumentException(
                    "SparseGpt.prune: unstructured sparsity must be in [0, 1), got " + sparsity);
        }
        return weight.rows();
    }

    /**
     * Steps 1 and 2 of {@link #prune} on their own: U (in, in) F32 upper triangular, allocated in {@code arena}, with
     * H⁻¹ = UᵀU for H = (2 / tokens) · gram, dead diagonals (0) set to 1 and λ = percDamp · mean(diag H) added to the
     * diagonal. With J the reversal permutation, J H J = L Lᵀ gives H = (J L J)(J L J)ᵀ with J L J upper triangular,
     * hence U = J L⁻¹ J, and H⁻¹ is never formed. Costs in³/3 (Cholesky) + 2in³/3 (triangular inverse, see
     * {@link #invertLower}) flops. {@code gram} (in, in) F32 contiguous is not modified. Public for benchmarks and
     * reuse.
     */
    public static Tensor inverseFactor(Tensor gram, long tokens, double percDamp, Arena arena, TensorOps ops) {
        if (gram.rank() != 2 || gram.rows() != gram.cols() || gram.dtype() != DType.F32 || !gram.isContiguous()) {
            throw new IllegalArgumentException(
                    "SparseGpt.inverseFactor: gram must be a contiguous square F32 matrix, got " + gram);
        }
        if (tokens <= 0) {
            throw new IllegalArgumentException(
                    "SparseGpt.inverseFactor: the Gram must sum at least one token, got " + tokens);
        }
        int n = gram.rows();
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            dead[i] = gram.data().getAtIndex(F32, (long) i * n + i) == 0f;
        }
        return inverseFactor(gram, (float) (2.0 / tokens), dead, percDamp, arena, ops);
    }

    /**
     * U for H = scale · gram, dead diagonals at 1, λ on the diagonal: J H J (M's flat array reversed, an O(n²) copy)
     * is factorised by {@link TensorOps#cholesky} into L, inverted by {@link #invertLower}, and U = J L⁻¹ J is again a
     * flat reversal.
     */
    private static Tensor inverseFactor(
            Tensor gram, float scale, boolean[] dead, double percDamp, Arena arena, TensorOps ops) {
        int n = gram.rows();
        MemorySegment gs = gram.data();
        double diagSum = 0;
        for (int i = 0; i < n; i++) {
            diagSum += dead[i] ? 1f : scale * gs.getAtIndex(F32, (long) i * n + i);
        }
        float damp = (float) (percDamp * diagSum / n);
        Tensor inverse = Tensor.allocate(arena, DType.F32, n, n); // (n, n) L⁻¹, then U
        try (Arena scratch = Arena.ofConfined()) {
            Tensor factor = Tensor.allocate(scratch, DType.F32, n, n); // (n, n) J H J, then its Cholesky factor L
            MemorySegment fs = ops.shareable(factor.data());
            MemorySegment hs = ops.shareable(gs);
            RowTiles.run(ops, n, RowTiles.ROWS, (i0, i1) -> {
                float[] row = new float[n];
                for (int i = i0; i < i1; i++) { // factor[i][j] = H[n-1-i][n-1-j]
                    int src = n - 1 - i;
                    MemorySegment.copy(hs, F32, (long) src * n * 4, row, 0, n);
                    for (int j = 0; j < n; j++) {
                        row[j] *= scale;
                    }
                    row[src] = (dead[src] ? 1f : row[src]) + damp;
                    reverse(row, n);
                    MemorySegment.copy(row, 0, fs, F32, (long) i * n * 4, n);
                }
            });
            try {
                ops.cholesky(factor);
            } catch (NotPositiveDefiniteException e) {
                throw new IllegalStateException(
                        "SparseGpt: the damped Hessian (percDamp " + percDamp + ") is not"
                                + " positive definite; expected a larger percDamp or finite calibration inputs",
                        e);
            }
            invertLower(factor, inverse, scratch, ops);
        }
        reverseFlat(ops.shareable(inverse.data()), n, ops);
        return inverse;
    }

    /**
     * X = L⁻¹ for L (n, n) lower triangular, into the zero-filled x (n, n), by block rows I of {@link #INVERSE_BLOCK}:
     * X[I, :I] = −L_II⁻¹ · (L[I, :I] · X[:I, :I]) and X[I, I] = L_II⁻¹, one triangular solve (against
     * [−product | identity]) per block row. The product goes by column blocks J, L[I, J:I] · X[J:I, J], one GEMM each,
     * skipping the zero blocks above the diagonal of X: about n³/3 flops at the GEMM rate (one GEMM over all of
     * X[:I, :I] would be 2n³/3, measured 0.32 s against 0.28 s for the whole factor at n = 4096 on 2 threads), instead of
     * the n³ of one triangular solve against the whole identity.
     */
    static void invertLower(Tensor l, Tensor x, Arena scratch, TensorOps ops) {
        int n = l.rows();
        int nb = INVERSE_BLOCK;
        MemorySegment rows = scratch.allocate((long) Math.min(nb, n) * n * 4, 64); // (h, width) right-hand sides
        MemorySegment diagonal = scratch.allocate((long) Math.min(nb, n) * Math.min(nb, n) * 4, 64); // (h, h) L_II
        MemorySegment ls = l.data();
        MemorySegment xs = x.data();
        for (int r0 = 0; r0 < n; r0 += nb) {
            int h = Math.min(nb, n - r0);
            int width = r0 + h;
            Tensor lii = Tensor.of(diagonal, DType.F32, h, h);
            for (int a = 0; a < h; a++) {
                MemorySegment.copy(
                        ls, (long) (r0 + a) * n * 4 + (long) r0 * 4, diagonal, (long) a * h * 4, (long) h * 4);
            }
            Tensor rhs = Tensor.of(rows, DType.F32, h, width); // [−L[I, :I] · X[:I, :I] | identity]
            rhs.zero();
            for (int c0 = 0; c0 < r0; c0 += nb) { // X[:I, J] is zero above row J: only L[I, J:I] · X[J:I, J]
                ops.gemm(
                        false,
                        false,
                        -1f,
                        l.rowSlice(r0, width).columnSlice(c0, r0),
                        x.rowSlice(c0, r0).columnSlice(c0, c0 + nb),
                        0f,
                        rhs.columnSlice(c0, c0 + nb));
            }
            for (int a = 0; a < h; a++) {
                rhs.set(a, r0 + a, 1.0);
            }
            ops.solveLowerTriangular(lii, false, rhs);
            for (int a = 0; a < h; a++) {
                MemorySegment.copy(rows, (long) a * width * 4, xs, (long) (r0 + a) * n * 4, (long) width * 4);
            }
        }
    }

    /** Reverses an (n, n) F32 matrix's flat array in place: M ← J M J, by tiles of row pairs (i, n − 1 − i). */
    private static void reverseFlat(MemorySegment m, int n, TensorOps ops) {
        RowTiles.run(ops, (n + 1) / 2, RowTiles.ROWS, (i0, i1) -> {
            float[] top = new float[n];
            float[] bottom = new float[n];
            for (int i = i0; i < i1; i++) {
                int j = n - 1 - i;
                MemorySegment.copy(m, F32, (long) i * n * 4, top, 0, n);
                MemorySegment.copy(m, F32, (long) j * n * 4, bottom, 0, n);
                reverse(top, n);
                reverse(bottom, n);
                MemorySegment.copy(bottom, 0, m, F32, (long) i * n * 4, n);
                if (j != i) {
                    MemorySegment.copy(top, 0, m, F32, (long) j * n * 4, n);
                }
            }
        });
    }

    private static void reverse(float[] a, int n) {
        for (int i = 0, j = n - 1; i < j; i++, j--) {
            float t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /**
     * The column sweep over W with the factor U, block by block. For a block [i1, i2): (unstructured) its mask is
     * selected over all rows at once ({@link #selectBlock}); then the kernel {@link TensorOps#obsSweep} sweeps every
     * row through the block's columns (N:M: choosing the marks of each group as it reaches it), leaving the block's
     * pruned weights and its Err in {@link #errors}; after the block, one GEMM propagates Err to the columns right of it
     * (Err row-major rather than transposed: packing a transposed operand costs the GEMM more).
     */
    private static final class Sweep {
        /** Rows per task when the block's scores are computed in {@link #selectBlock}. */
        static final int SCORE_ROWS = 64;
        /** Fixed pieces of the block's score histograms (integer counts: any split gives the same totals). */
        private static final int HISTOGRAM_PIECES = 4;

        private final Tensor weight; // (out, in) W, updated in place
        private final MemorySegment ws; // weight's data, reachable from the backend's threads
        private final long ld; // weight's row stride
        private final Tensor u; // (in, in) upper factor of H⁻¹
        private final float[] diag; // (in) U_jj
        private final SparsityPattern pattern;
        private final double sparsity;
        private final int blockSize;
        private final TensorOps ops;
        private final int out;
        private final int in;
        private final Tensor errors; // (out, blockSize) Err of the current block
        private final float[] marks; // (out, width) 1 where a weight of the block is pruned, else 0
        private final float[] scores; // (out, width) w² / U_jj² of the current block (unstructured)
        private final int[][] histograms; // (HISTOGRAM_PIECES, 2¹⁶) counts of score bits (unstructured)

        Sweep(
                Tensor weight,
                Tensor u,
                float[] diag,
                SparsityPattern pattern,
                double sparsity,
                int blockSize,
                Arena arena,
                TensorOps ops) {
            this.weight = weight;
            this.ws = ops.shareable(weight.data());
            this.ld = weight.rowStride();
            this.u = u;
            this.diag = diag;
            this.pattern = pattern;
            this.sparsity = sparsity;
            this.blockSize = blockSize;
            this.ops = ops;
            this.out = weight.rows();
            this.in = weight.cols();
            this.errors = Tensor.allocate(arena, DType.F32, out, blockSize);
            this.marks = new float[out * blockSize];
            this.scores = pattern.isNm() ? null : new float[out * blockSize];
            this.histograms = pattern.isNm() ? null : new int[HISTOGRAM_PIECES][1 << 16];
        }

        void run() {
            MemorySegment markData = MemorySegment.ofArray(marks);
            for (int i1 = 0; i1 < in; i1 += blockSize) {
                int i2 = Math.min(i1 + blockSize, in);
                int width = i2 - i1;
                if (!pattern.isNm()) {
                    selectBlock(i1, width);
                }
                Tensor uBlock = u.rowSlice(i1, i2).columnSlice(i1, i2); // (width, width)
                Tensor markBlock = Tensor.of(markData, DType.F32, out, width); // read (unstructured) or written (N:M)
                ops.obsSweep(
                        uBlock,
                        pattern.keep(),
                        pattern.group(),
                        markBlock,
                        weight.columnSlice(i1, i2),
                        errors.columnSlice(0, width));
                if (i2 < in) { // W[:, i2:] −= Err · U[i1:i2, i2:]
                    ops.gemm(
                            false,
                            false,
                            -1f,
                            errors.columnSlice(0, width),
                            u.rowSlice(i1, i2).columnSlice(i2, in),
                            1f,
                            weight.columnSlice(i2, in));
                }
            }
        }

        /**
         * Marks exactly k = ⌊out · width · sparsity⌋ weights of the block with the smallest w² / U_jj², as
         * {@link #markSmallest} on the block in column-major order would (ties: earlier column, then earlier row):
         * scores and marks by row tiles on the backend's threads, the two radix histograms in
         * {@link #HISTOGRAM_PIECES} fixed pieces, the ties in order only when some of them stay unmarked.
         */
        private void selectBlock(int i1, int width) {
            int n = width * out;
            int k = (int) (n * sparsity);
            if (k <= 0 || k >= n) {
                Arrays.fill(marks, 0, n, k <= 0 ? 0f : 1f);
                return;
            }
            float[] squares = new float[width]; // U_jj² of the block's columns
            for (int c = 0; c < width; c++) {
                float d = diag[i1 + c];
                squares[c] = d * d;
            }
            int tileCount = (out + SCORE_ROWS - 1) / SCORE_ROWS;
            ops.forEachTask(tileCount, t -> {
                float[] row = new float[width];
                for (int r = t * SCORE_ROWS; r < Math.min(out, (t + 1) * SCORE_ROWS); r++) {
                    MemorySegment.copy(ws, F32, (r * ld + i1) * 4, row, 0, width);
                    int base = r * width;
                    for (int c = 0; c < width; c++) {
                        scores[base + c] = row[c] * row[c] / squares[c];
                    }
                }
            });
            int[] h = histograms[0];
            histogram(n, -1);
            int high = 0;
            int below = 0; // scores in buckets under `high`
            while (below + h[high] < k) {
                below += h[high++];
            }
            histogram(n, high);
            int low = 0;
            while (below + h[low] < k) {
                below += h[low++];
            }
            int threshold = (high << 16) | low; // the bits of the k-th smallest score
            int ties = k - below; // scores equal to the threshold that are marked, at least one
            boolean allTies = ties == h[low];
            ops.forEachTask(
                    HISTOGRAM_PIECES,
                    p -> { // 1 where bits < threshold (≤ when every tie is marked)
                        int to = (int) ((long) n * (p + 1) / HISTOGRAM_PIECES);
                        for (int i = (int) ((long) n * p / HISTOGRAM_PIECES); i < to; i++) {
                            int bits = Float.floatToRawIntBits(scores[i]);
                            marks[i] = allTies ? 1 - ((threshold - bits) >>> 31) : (bits - threshold) >>> 31;
                        }
                    });
            for (int c = 0; !allTies && ties > 0; c++) { // the first ties in column-major order
                for (int r = 0; r < out && ties > 0; r++) {
                    if (Float.floatToRawIntBits(scores[r * width + c]) == threshold) {
                        marks[r * width + c] = 1f;
                        ties--;
                    }
                }
            }
        }

        /**
         * histograms[0] ← the counts of the scores' high 16 bits ({@code high} &lt; 0), or of the low 16 bits of the
         * scores whose high bits equal {@code high}; counted in fixed pieces, then summed.
         */
        private void histogram(int n, int high) {
            ops.forEachTask(HISTOGRAM_PIECES, p -> {
                int[] h = histograms[p];
                Arrays.fill(h, 0);
                int to = (int) ((long) n * (p + 1) / HISTOGRAM_PIECES);
                for (int i = (int) ((long) n * p / HISTOGRAM_PIECES); i < to; i++) {
                    int bits = Float.floatToRawIntBits(scores[i]);
                    if (high < 0) {
                        h[bits >>> 16]++;
                    } else if (bits >>> 16 == high) {
                        h[bits & 0xffff]++;
                    }
                }
            });
            int[] sum = histograms[0];
            for (int p = 1; p < HISTOGRAM_PIECES; p++) {
                int[] h = histograms[p];
                for (int b = 0; b < sum.length; b++) {
                    sum[b] += h[b];
                }
            }
        }
    }

    /**
     * Sets {@code marks[i]} to 1 for exactly the {@code k} smallest of {@code scores[0..n)} (ties: lower index first)
     * and to 0 for the others, in O(n): a two-pass radix selection on the float bits, which order non-negative floats
     * (and a positive NaN after +∞) as integers. Scores must be ≥ 0 or NaN.
     */
    static void markSmallest(float[] scores, int n, int k, float[] marks) {
        if (k <= 0 || k >= n) {
            Arrays.fill(marks, 0, n, k <= 0 ? 0f : 1f);
            return;
        }
        int[] histogram = new int[1 << 16];
        for (int i = 0; i < n; i++) {
            histogram[Float.floatToRawIntBits(scores[i]) >>> 16]++;
        }
        int high = 0;
        int below = 0; // scores in buckets under `high`
        while (below + histogram[high] < k) {
            below += histogram[high++];
        }
        Arrays.fill(histogram, 0);
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToRawIntBits(scores[i]);
            if (bits >>> 16 == high) {
                histogram[bits & 0xffff]++;
            }
        }
        int low = 0;
        while (below + histogram[low] < k) {
            below += histogram[low++];
        }
        int threshold = (high << 16) | low; // the bits of the k-th smallest score
        for (int i = 0; i < n; i++) { // 1 where bits < threshold: the sign of the difference of two non-negative ints
            marks[i] = (Float.floatToRawIntBits(scores[i]) - threshold) >>> 31;
        }
        int ties = k - below; // scores equal to the threshold that are marked too, in index order (at least one)
        for (int i = 0; ties > 0; i++) {
            if (Float.floatToRawIntBits(scores[i]) == threshold) {
                marks[i] = 1f;
                ties--;
            }
        }
    }
}
