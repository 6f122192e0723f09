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
 * the Cholesky factor of the reversed matrix ({@link #inverseFactor}); inside a block, columns are handled in panels
 * of {@link #PANEL}, with a GEMM from each panel to the rest of the block, so that only O(out · in · PANEL) work is
 * left to the Java loops. Everything is f32, like the official code; only the mean of the diagonal is in f64.
 */
public final class SparseGpt {
    /**
     * Panel width inside a block: rank-1 updates within a panel (Java loops), a GEMM between panels. Measured on
     * 4096 x 4096 (2 threads): 16 → panels 0.05 s + in-block GEMMs 0.02 s; 32 → 0.08 + 0.02; 64 → 0.15 + 0.01.
     */
    static final int PANEL = 16;
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
                throw new IllegalArgumentException("SparseGpt.Options: percDamp must be finite and ≥ 0, got " + percDamp);
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
    public static LinearPruner.PruneOutcome prune(Tensor weight, Tensor gram, long tokens, SparsityPattern pattern,
            double sparsity, Options o, TensorOps ops) {
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
        return new LinearPruner.PruneOutcome(countZeros(weight), (long) out * in);
    }

    /** Validates the arguments; returns the output width. */
    private static int check(Tensor weight, Tensor gram, long tokens, SparsityPattern pattern, double sparsity,
            Options o) {
        if (weight.rank() != 2 || weight.dtype() != DType.F32) {
            throw new IllegalArgumentException("SparseGpt.prune: weight must be an F32 matrix (out, in), got " + weight);
        }
        int in = weight.cols();
        if (gram.rank() != 2 || gram.rows() != in || gram.cols() != in || gram.dtype() != DType.F32
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
            throw new IllegalArgumentException("SparseGpt.prune: unstructured sparsity must be in [0, 1), got " + sparsity);
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
            throw new IllegalArgumentException("SparseGpt.inverseFactor: gram must be a contiguous square F32 matrix, got "
                    + gram);
        }
        if (tokens <= 0) {
            throw new IllegalArgumentException("SparseGpt.inverseFactor: the Gram must sum at least one token, got "
                    + tokens);
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
    private static Tensor inverseFactor(Tensor gram, float scale, boolean[] dead, double percDamp, Arena arena,
            TensorOps ops) {
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
            MemorySegment fs = factor.data();
            float[] row = new float[n];
            for (int i = 0; i < n; i++) { // factor[i][j] = H[n-1-i][n-1-j]
                int src = n - 1 - i;
                MemorySegment.copy(gs, F32, (long) src * n * 4, row, 0, n);
                for (int j = 0; j < n; j++) {
                    row[j] *= scale;
                }
                row[src] = (dead[src] ? 1f : row[src]) + damp;
                reverse(row, n);
                MemorySegment.copy(row, 0, fs, F32, (long) i * n * 4, n);
            }
            try {
                ops.cholesky(factor);
            } catch (NotPositiveDefiniteException e) {
                throw new IllegalStateException("SparseGpt: the damped Hessian (percDamp " + percDamp + ") is not"
                        + " positive definite; expected a larger percDamp or finite calibration inputs", e);
            }
            invertLower(factor, inverse, scratch, ops);
        }
        reverseFlat(inverse.data(), n);
        return inverse;
    }

    /**
     * X = L⁻¹ for L (n, n) lower triangular, into the zero-filled x (n, n), by block rows I of {@link #INVERSE_BLOCK}:
     * X[I, :I] = −L_II⁻¹ · (L[I, :I] · X[:I, :I]) and X[I, I] = L_II⁻¹, one GEMM and one triangular solve (against
     * [−product | identity]) per block row. The GEMMs multiply the zero upper part of X[:I, :I] too: 2n³/3 flops in
     * all, at the GEMM rate, instead of the n³ of one triangular solve against the whole identity.
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
                MemorySegment.copy(ls, (long) (r0 + a) * n * 4 + (long) r0 * 4, diagonal, (long) a * h * 4, (long) h * 4);
            }
            Tensor rhs = Tensor.of(rows, DType.F32, h, width); // [−L[I, :I] · X[:I, :I] | identity]
            rhs.zero();
            if (r0 > 0) {
                ops.gemm(false, false, -1f, l.rowSlice(r0, width).columnSlice(0, r0), x.rowSlice(0, r0).columnSlice(0, r0),
                        0f, rhs.columnSlice(0, r0));
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

    /** Reverses an (n, n) F32 matrix's flat array in place: M ← J M J. */
    private static void reverseFlat(MemorySegment m, int n) {
        float[] top = new float[n];
        float[] bottom = new float[n];
        for (int i = 0; i < (n + 1) / 2; i++) {
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
    }

    private static void reverse(float[] a, int n) {
        for (int i = 0, j = n - 1; i < j; i++, j--) {
            float t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static long countZeros(Tensor weight) {
        int rows = weight.rows();
        int cols = weight.cols();
        float[] row = new float[cols];
        long zeros = 0;
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(weight.data(), F32, r * weight.rowStride() * 4, row, 0, cols);
            for (float v : row) {
                if (v == 0f) {
                    zeros++;
                }
            }
        }
        return zeros;
    }

    /**
     * The column sweep over W with the factor U. Each block of columns is held transposed, (width, out), so that the
     * in-panel rank-1 updates are axpys over all rows: on the Java heap in {@link #columns} for the loops, and in the
     * native {@link #blockT} for the GEMM from each panel to the rest of the block. After the block, its columns go
     * back into W and one GEMM propagates its Err to the columns right of it.
     */
    private static final class Sweep {
        /** Rows per chunk of the in-panel loops, so that a chunk of the panel stays in the L1 cache. */
        private static final int ROW_CHUNK = 256;
        /** Rows per tile of the transpositions between W and {@link #columns}. */
        private static final int TILE = 16;
        private final Tensor weight; // (out, in) W, updated in place
        private final Tensor u; // (in, in) upper factor of H⁻¹
        private final float[] diag; // (in) U_jj
        private final SparsityPattern pattern;
        private final double sparsity;
        private final int blockSize;
        private final int panel; // panel width, a multiple of M for N:M
        private final TensorOps ops;
        private final int out;
        private final int in;
        private final Tensor blockT; // (blockSize, out) W[:, i1:i2]ᵀ of the current block
        private final Tensor errorsT; // (blockSize, out) Errᵀ of the current block
        private final float[] columns; // (blockSize, out) W[:, i1:i2]ᵀ on the heap
        private final float[] errors; // (panel, out) Errᵀ of the current panel
        private final float[] marks; // (blockSize, out) 1 where a weight of the block is pruned, else 0
        private final float[] scores; // (blockSize, out) w² / U_jj² of the current block (unstructured)
        private final int[] nmBits; // (M, ROW_CHUNK) bits of w² / U_jj² of one N:M group, for a chunk of rows
        private final int[] nmRanks; // (ROW_CHUNK) ranks within the group

        Sweep(Tensor weight, Tensor u, float[] diag, SparsityPattern pattern, double sparsity, int blockSize,
                Arena arena, TensorOps ops) {
            this.weight = weight;
            this.u = u;
            this.diag = diag;
            this.pattern = pattern;
            this.sparsity = sparsity;
            this.blockSize = blockSize;
            int m = pattern.group();
            this.panel = Math.min(blockSize, pattern.isNm() ? m * Math.max(1, PANEL / m) : PANEL);
            this.ops = ops;
            this.out = weight.rows();
            this.in = weight.cols();
            this.blockT = Tensor.allocate(arena, DType.F32, blockSize, out);
            this.errorsT = Tensor.allocate(arena, DType.F32, blockSize, out);
            this.columns = new float[blockSize * out];
            this.errors = new float[panel * out];
            this.marks = new float[blockSize * out];
            this.scores = pattern.isNm() ? null : new float[blockSize * out];
            this.nmBits = new int[Math.max(1, m) * ROW_CHUNK];
            this.nmRanks = new int[ROW_CHUNK];
        }

        void run() {
            MemorySegment bs = blockT.data();
            MemorySegment es = errorsT.data();
            for (int i1 = 0; i1 < in; i1 += blockSize) {
                int i2 = Math.min(i1 + blockSize, in);
                int width = i2 - i1;
                Tensor block = blockT.rowSlice(0, width); // (width, out)
                transposeIn(i1, width);
                MemorySegment.copy(columns, 0, bs, F32, 0, width * out);
                if (!pattern.isNm()) {
                    selectBlock(i1, width);
                }
                for (int s1 = 0; s1 < width; s1 += panel) { // block-relative columns [s1, s2)
                    int s2 = Math.min(s1 + panel, width);
                    int w = s2 - s1;
                    MemorySegment.copy(bs, F32, (long) s1 * out * 4, columns, s1 * out, w * out);
                    sweepPanel(i1, s1, s2);
                    MemorySegment.copy(columns, s1 * out, bs, F32, (long) s1 * out * 4, w * out);
                    MemorySegment.copy(errors, 0, es, F32, (long) s1 * out * 4, w * out);
                    if (s2 < width) { // W[:, s2:]ᵀ −= U[s1:s2, s2:]ᵀ · Err[:, s1:s2]ᵀ within the block
                        ops.gemm(true, false, -1f, u.rowSlice(i1 + s1, i1 + s2).columnSlice(i1 + s2, i2),
                                errorsT.rowSlice(s1, s2), 1f, block.rowSlice(s2, width));
                    }
                }
                MemorySegment.copy(bs, F32, 0, columns, 0, width * out);
                transposeOut(i1, width);
                if (i2 < in) { // W[:, i2:] −= Err · U[i1:i2, i2:]
                    ops.gemm(true, false, -1f, errorsT.rowSlice(0, width), u.rowSlice(i1, i2).columnSlice(i2, in), 1f,
                            weight.columnSlice(i2, in));
                }
            }
        }

        /** columns ← W[:, i1:i1+width]ᵀ, in tiles of {@link #TILE} rows so that each write fills a cache line. */
        private void transposeIn(int i1, int width) {
            float[] tile = new float[TILE * width]; // (TILE, width) rows of W[:, i1:i1+width]
            MemorySegment ws = weight.data();
            long ld = weight.rowStride();
            for (int r0 = 0; r0 < out; r0 += TILE) {
                int rows = Math.min(TILE, out - r0);
                for (int t = 0; t < rows; t++) {
                    MemorySegment.copy(ws, F32, ((r0 + t) * ld + i1) * 4, tile, t * width, width);
                }
                for (int c = 0; c < width; c++) {
                    int base = c * out + r0;
                    for (int t = 0; t < rows; t++) {
                        columns[base + t] = tile[t * width + c];
                    }
                }
            }
        }

        /** W[:, i1:i1+width] ← columnsᵀ, in tiles of {@link #TILE} rows. */
        private void transposeOut(int i1, int width) {
            float[] tile = new float[TILE * width]; // (TILE, width) rows of W[:, i1:i1+width]
            MemorySegment ws = weight.data();
            long ld = weight.rowStride();
            for (int r0 = 0; r0 < out; r0 += TILE) {
                int rows = Math.min(TILE, out - r0);
                for (int c = 0; c < width; c++) {
                    int base = c * out + r0;
                    for (int t = 0; t < rows; t++) {
                        tile[t * width + c] = columns[base + t];
                    }
                }
                for (int t = 0; t < rows; t++) {
                    MemorySegment.copy(tile, t * width, ws, F32, ((r0 + t) * ld + i1) * 4, width);
                }
            }
        }

        /** Marks exactly ⌊out · width · sparsity⌋ weights of the block with the smallest w² / U_jj². */
        private void selectBlock(int i1, int width) {
            for (int c = 0; c < width; c++) {
                float d = diag[i1 + c];
                float dd = d * d;
                int base = c * out;
                for (int r = 0; r < out; r++) {
                    float v = columns[base + r];
                    scores[base + r] = v * v / dd;
                }
            }
            int n = width * out;
            markSmallest(scores, n, (int) (n * sparsity), marks);
        }

        /**
         * Block-relative columns [s1, s2) of the block starting at column i1, in chunks of rows: N:M marks, then per
         * column err = w / U_ii where marked (and w ← 0), and the axpys w_b −= err · U_ib for the later columns b of
         * the panel. Rows are independent, so chunking does not change any result.
         */
        private void sweepPanel(int i1, int s1, int s2) {
            int w = s2 - s1;
            float[] uPanel = new float[w * w]; // (w, w) U[i1+s1 : i1+s2, i1+s1 : i1+s2]
            for (int a = 0; a < w; a++) {
                MemorySegment.copy(u.data(), F32, ((long) (i1 + s1 + a) * in + i1 + s1) * 4, uPanel, a * w, w);
            }
            boolean nm = pattern.isNm();
            int m = pattern.group();
            for (int r0 = 0; r0 < out; r0 += ROW_CHUNK) {
                int rows = Math.min(ROW_CHUNK, out - r0);
                for (int a = 0; a < w; a++) {
                    int i = i1 + s1 + a;
                    int col = (s1 + a) * out + r0; // chunk start of this column in columns and marks
                    int errCol = a * out + r0;
                    if (nm && i % m == 0) {
                        markGroups(s1 + a, i, Math.min(m, in - i), r0, rows);
                    }
                    float d = diag[i];
                    for (int r = 0; r < rows; r++) { // branch-free: err = w / d and w = 0 where marked
                        float v = columns[col + r];
                        float dropped = v * marks[col + r];
                        errors[errCol + r] = dropped / d;
                        columns[col + r] = v - dropped;
                    }
                    for (int b = a + 1; b < w; b++) {
                        axpy(-uPanel[a * w + b], errors, errCol, columns, (s1 + b) * out + r0, rows);
                    }
                }
            }
        }

        /**
         * For rows [r0, r0+rows), marks the M − N smallest w² / U_jj² among block columns c..c+m−1 (absolute columns
         * i..i+m−1), ties going to the earlier column. Branch-free over rows: column g is marked when its rank
         * #{h : s_h &lt; s_g} + #{h &lt; g : s_h = s_g} is below M − N, with the scores compared as the integers of
         * their bits (they are ≥ 0), so that a comparison is the sign of a difference.
         */
        /** Marks the weights to drop in the N:M group of {@code m} columns at column i (m < M for a trailing group). */
        private void markGroups(int c, int i, int m, int r0, int rows) {
            int drop = m - pattern.keptInGroup(m);
            int[] bits = nmBits; // (m, ROW_CHUNK) bits of w² / U_jj²
            int[] rank = nmRanks; // (ROW_CHUNK)
            for (int g = 0; g < m; g++) {
                float d = diag[i + g];
                float dd = d * d;
                int from = (c + g) * out + r0;
                int to = g * ROW_CHUNK;
                for (int r = 0; r < rows; r++) {
                    float v = columns[from + r];
                    bits[to + r] = Float.floatToRawIntBits(v * v / dd);
                }
            }
            for (int g = 0; g < m; g++) {
                Arrays.fill(rank, 0, rows, 0);
                int sg = g * ROW_CHUNK;
                for (int h = 0; h < m; h++) {
                    int sh = h * ROW_CHUNK;
                    int orEqual = h < g ? 1 : 0; // s_h ≤ s_g counts for an earlier column, s_h < s_g for a later
                    if (h != g) {
                        for (int r = 0; r < rows; r++) {
                            rank[r] += (bits[sh + r] - bits[sg + r] - orEqual) >>> 31;
                        }
                    }
                }
                int target = (c + g) * out + r0;
                for (int r = 0; r < rows; r++) {
                    marks[target + r] = (rank[r] - drop) >>> 31; // 1 when rank < drop
                }
            }
        }
    }

    /** y[yFrom + k] += alpha · x[xFrom + k] for k &lt; n (a loop the JIT vectorises). */
    private static void axpy(float alpha, float[] x, int xFrom, float[] y, int yFrom, int n) {
        for (int k = 0; k < n; k++) {
            y[yFrom + k] += alpha * x[xFrom + k];
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
