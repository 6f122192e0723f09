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

    private ReconstructionError() {}

    /**
     * The relative squared reconstruction error ||X Wᵀ − X Ŵᵀ||²_F / ||X Wᵀ||²_F over the calibration inputs X (n, in),
     * computed from their Gram H = XᵀX as tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) with ΔW = W − Ŵ. Each trace is the sum of the
     * element-wise product (ΔW·H) ⊙ ΔW, where ΔW·H is one GEMM on {@code ops}; the sums are in f64. Any scaling of H
     * cancels.
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
        if (gram.rank() != 2 || gram.rows() != in || gram.cols() != in) {
            throw new IllegalArgumentException(
                    "ReconstructionError: gram must be (" + in + ", " + in + "), got " + gram);
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
            Tensor product = Tensor.allocate(arena, DType.F32, out, in); // (out, in) M·H
            double numerator = quadraticTrace(delta, gram, product, ops);
            double denominator = quadraticTrace(w, gram, product, ops);
            if (denominator == 0) {
                return numerator == 0 ? 0 : Double.POSITIVE_INFINITY;
            }
            return numerator / denominator;
        }
    }

    /** tr(M H Mᵀ) = Σ (M·H) ⊙ M, with M·H into {@code scratch} (out, in, contiguous) by one GEMM. */
    private static double quadraticTrace(Tensor m, Tensor gram, Tensor scratch, TensorOps ops) {
        ops.gemm(false, false, 1f, m, gram, 0f, scratch);
        int in = m.cols();
        float[] product = new float[in];
        float[] row = new float[in];
        double sum = 0;
        for (int r = 0; r < m.rows(); r++) {
            MemorySegment.copy(scratch.data(), F32, (long) r * in * 4, product, 0, in);
            LinearPruner.readRow(m, r, row);
            for (int c = 0; c < in; c++) {
                sum += (double) product[c] * row[c];
            }
        }
        return sum;
    }
}
