package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** How far a pruned linear map's outputs are from the dense map's, on the calibration inputs summarised by a Gram. */
public final class ReconstructionError {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private ReconstructionError() {}

    /** Columns of MᵀM computed per GEMM in {@link #quadraticTrace}. */
    public static final int TRACE_BLOCK = 512;

    /**
     * The relative squared reconstruction error ||X Wᵀ − X Ŵᵀ||²_F / ||X Wᵀ||²_F over the calibration inputs X (n, in),
     * computed from their Gram H = XᵀX as tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) with ΔW = W − Ŵ. Each trace tr(M H Mᵀ) is the
     * inner product of H with the symmetric MᵀM, read from the lower triangles ({@link #quadraticTrace}): out · in²
     * flops a trace by GEMMs on {@code ops}, half of forming M·H; the sums are in f64. Any scaling of H cancels.
     *
     * @param original the dense weight W (out, in), any float dtype
     * @param pruned   the pruned weight Ŵ (out, in), any float dtype
     * @param gram     H (in, in), F32 or F64, symmetric
     * @return the ratio; 0 when both traces are 0, +∞ when only the denominator is
     */
    public static double relative(Tensor original, Tensor pruned, Tensor gram, TensorOps ops) {
        if (original.rank() != 2
                || pruned.rank() != 2
                || original.rows() != pruned.rows()
                || original.cols() != pruned.cols()) {
            throw new IllegalArgumentException("ReconstructionError: original " + original + " and pruned " + pruned
                    + " must be matrices of one shape (out, in)");
        }
        int out = original.rows();
        int in = original.cols();
        if (gram.rank() != 2
                || gram.rows() != in
                || gram.cols() != in
                || (gram.dtype() != DType.F32 && gram.dtype() != DType.F64)) {
            throw new IllegalArgumentException(
                    "ReconstructionError: gram must be an F32 or F64 (" + in + ", " + in + ") matrix, got " + gram);
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = original.dtype() == DType.F32 ? original : original.copyAs(arena, DType.F32); // (out, in) W
            Tensor delta = Tensor.allocate(arena, DType.F32, out, in); // (out, in) W − Ŵ
            float[] o = new float[in];
            float[] p = new float[in];
            for (int r = 0; r < out; r++) {
                LinearPruner.readRow(original, r, o);
                LinearPruner.readRow(pruned, r, p);
                for (int c = 0; c < in; c++) {
                    o[c] = (float) ((double) o[c] - p[c]);
                }
                MemorySegment.copy(o, 0, delta.data(), F32, (long) r * in * 4, in);
            }
            int block = Math.min(TRACE_BLOCK, in);
            Tensor columns = Tensor.allocate(arena, DType.F32, in, block); // (in, block) columns of MᵀM
            double numerator = quadraticTrace(delta, gram, columns, ops);
            double denominator = quadraticTrace(w, gram, columns, ops);
            if (denominator == 0) {
                return numerator == 0 ? 0 : Double.POSITIVE_INFINITY;
            }
            return numerator / denominator;
        }
    }

    /**
     * tr(M H Mᵀ) = Σᵢⱼ H_ij (MᵀM)_ij for M (out, in) and H (in, in) symmetric: by column blocks J = [j0, j1) of
     * {@code scratch}'s width, S = M[:, j0:]ᵀ · M[:, J] (one GEMM, the rows of MᵀM from j0 down), then for each j in J
     * H_jj S_jj + 2 Σ_{i &gt; j} H_ij S_ij. The GEMMs do out · in² flops in all (plus out · in · width for the diagonal
     * blocks), where M·H would be 2 · out · in².
     */
    static double quadraticTrace(Tensor m, Tensor gram, Tensor scratch, TensorOps ops) {
        int in = m.cols();
        int width = scratch.cols();
        double[] h = new double[width];
        float[] s = new float[width];
        float[] g = new float[width];
        double sum = 0;
        for (int j0 = 0; j0 < in; j0 += width) {
            int b = Math.min(width, in - j0);
            Tensor block = scratch.rowSlice(0, in - j0).columnSlice(0, b); // (in − j0, b): S[i − j0][j − j0] = (MᵀM)_ij
            ops.gemm(true, false, 1f, m.columnSlice(j0, in), m.columnSlice(j0, j0 + b), 0f, block);
            for (int i = j0; i < in; i++) {
                MemorySegment.copy(scratch.data(), F32, (long) (i - j0) * scratch.rowStride() * 4, s, 0, b);
                int diagonal = i - j0; // the column of (MᵀM)_ii in S, when it is in J
                int strict = Math.min(b, diagonal); // the columns j < i
                readGramRow(gram, i, j0, Math.min(b, diagonal + 1), g, h);
                double below = 0; // Σ_{j ∈ J, j < i} H_ij S_ij
                for (int c = 0; c < strict; c++) {
                    below += h[c] * s[c];
                }
                sum += 2 * below + (diagonal < b ? h[diagonal] * s[diagonal] : 0);
            }
        }
        return sum;
    }

    /** H[i][j0 .. j0 + count) into {@code out}, from F64 or (through {@code floats}) F32. */
    private static void readGramRow(Tensor gram, int i, int j0, int count, float[] floats, double[] out) {
        long at = (long) i * gram.rowStride() + j0;
        if (gram.dtype() == DType.F64) {
            MemorySegment.copy(gram.data(), F64, at * 8, out, 0, count);
            return;
        }
        MemorySegment.copy(gram.data(), F32, at * 4, floats, 0, count);
        for (int c = 0; c < count; c++) {
            out[c] = floats[c];
        }
    }
}
