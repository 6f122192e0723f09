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
            transpose(sparse.data(), out, in, x.data(), ops);
            MemorySegment xs = ops.shareable(x.data());
            MemorySegment ms = ops.shareable(mask.data());
            RowTiles.run(ops, in, RowTiles.ROWS, (r0, r1) -> {
                float[] row = new float[out];
                for (int r = r0; r < r1; r++) {
                    long offset = (long) r * out * 4;
                    MemorySegment.copy(xs, F32, offset, row, 0, out);
                    for (int c = 0; c < out; c++) {
                        row[c] = row[c] != 0f ? 1f : 0f;
                    }
                    MemorySegment.copy(row, 0, ms, F32, offset, out);
                }
            });
            iterations = ops.maskedConjugateGradient(
                    problem.scaledGram, rhs, mask, x, options.cgIterations(), options.cgTolerance());
            transpose(x.data(), in, out, sparse.data(), ops);
        }
        MemorySegment b = ops.shareable(sparse.data());
        MemorySegment w = ops.shareable(weight.data());
        long ld = weight.rowStride();
        RowTiles.run(ops, out, RowTiles.ROWS, (r0, r1) -> {
            float[] row = new float[in];
            for (int r = r0; r < r1; r++) {
                MemorySegment.copy(b, F32, (long) r * in * 4, row, 0, in);
                for (int c = 0; c < in; c++) {
                    row[c] = (float) (row[c] / problem.scale[c]);
                }
                MemorySegment.copy(row, 0, w, F32, r * ld * 4, in);
            }
        });
        return iterations;
    }

    /** {@code to = fromᵀ}: from (rows, cols), to (cols, rows), both contiguous F32, in tiles (row tiles on ops' threads). */
    static void transpose(MemorySegment from, int rows, int cols, MemorySegment to, TensorOps ops) {
        MemorySegment source = ops.shareable(from);
        MemorySegment target = ops.shareable(to);
        RowTiles.run(ops, rows, TILE, (r0, r1) -> {
            int h = r1 - r0;
            float[] block = new float[TILE * TILE]; // (h, w) from[r0:r1, c0:c1]
            float[] flipped = new float[TILE * TILE]; // (w, h) its transpose
            for (int c0 = 0; c0 < cols; c0 += TILE) {
                int w = Math.min(cols - c0, TILE);
                for (int r = 0; r < h; r++) {
                    MemorySegment.copy(source, F32, ((long) (r0 + r) * cols + c0) * 4, block, r * w, w);
                }
                for (int r = 0; r < h; r++) {
                    for (int c = 0; c < w; c++) {
                        flipped[c * h + r] = block[r * w + c];
                    }
                }
                for (int c = 0; c < w; c++) {
                    MemorySegment.copy(flipped, c * h, target, F32, ((long) (c0 + c) * rows + r0) * 4, h);
                }
            }
        });
    }
}
