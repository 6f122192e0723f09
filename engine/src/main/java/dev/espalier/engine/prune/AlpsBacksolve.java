package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The backsolve of ALPS: with the support S of D fixed, conjugate gradient on {@code Hs[S_j, S_j] B[S_j, j] =
 * (Hs B0)[S_j, j]} for every output j at once ({@link TensorOps#maskedConjugateGradient}, in the (in, out) layout it
 * expects), started from D; then the scaling is undone, {@code Ŵ[j][i] = B[i][j] / s_i}, into the weight.
 */
final class AlpsBacksolve {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int TILE = 64;

    private AlpsBacksolve() {}

    /**
     * Refits {@code admm.sparse()} on its support, leaves the scaled result there and writes Ŵ into {@code weight}
     * (out, in) F32; returns the CG iterations run.
     */
    static int run(AlpsScaledProblem problem, AlpsAdmm admm, Alps.Options options, Tensor weight, TensorOps ops) {
        Tensor sparse = admm.sparse(); // (out, in)
        int out = sparse.rows();
        int in = sparse.cols();
        Tensor[] scratch = admm.scratch();
        Tensor rhs = scratch[0].reshape(in, out); // (in, out) Hs B0
        Tensor mask = scratch[1].reshape(in, out); // (in, out) 1 on the support
        Tensor x = scratch[2].reshape(in, out); // (in, out) B, starting at D
        int iterations = 0;
        if (options.cgIterations() > 0) {
            ops.gemm(false, true, 1f, problem.scaledGram, admm.dense(), 0f, rhs);
            transpose(sparse.data(), out, in, x.data());
            MemorySegment xs = x.data();
            MemorySegment ms = mask.data();
            for (long i = 0; i < (long) in * out; i++) {
                ms.setAtIndex(F32, i, xs.getAtIndex(F32, i) != 0f ? 1f : 0f);
            }
            iterations = ops.maskedConjugateGradient(
                    problem.scaledGram, rhs, mask, x, options.cgIterations(), options.cgTolerance());
            transpose(x.data(), in, out, sparse.data());
        }
        MemorySegment b = sparse.data();
        for (int r = 0; r < out; r++) {
            for (int c = 0; c < in; c++) {
                weight.set(r, c, b.getAtIndex(F32, (long) r * in + c) / problem.scale[c]);
            }
        }
        return iterations;
    }

    /** {@code to = fromᵀ}: from (rows, cols), to (cols, rows), both contiguous F32, in tiles. */
    static void transpose(MemorySegment from, int rows, int cols, MemorySegment to) {
        for (int r0 = 0; r0 < rows; r0 += TILE) {
            int r1 = Math.min(rows, r0 + TILE);
            for (int c0 = 0; c0 < cols; c0 += TILE) {
                int c1 = Math.min(cols, c0 + TILE);
                for (int r = r0; r < r1; r++) {
                    for (int c = c0; c < c1; c++) {
                        to.setAtIndex(F32, (long) c * rows + r, from.getAtIndex(F32, (long) r * cols + c));
                    }
                }
            }
        }
    }
}
