package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The ADMM of ALPS with its ρ schedule (see {@link Alps}), on the scaled problem in row layout: every matrix is
 * (out, in), row r holding output r's weights (the transpose of the official (in, out) layout), and a matrix X in
 * the eigenbasis is X̃ = X Q (i.e. (Qᵀ Xᵀ)ᵀ).
 *
 * <p>State between iterations: the sparse iterate D, and P = B + V/ρ, the point D was projected from; the dual is
 * never stored, V = ρ(P − D), and both are kept in the original basis (for the projection) and in the eigenbasis
 * (for the B-update), which stay consistent because every update is linear. One iteration, ρ' the new ρ:
 * <pre>
 *   Ṽ = ρ(P̃ − D̃);   B̃ = (Λ B̃0 − Ṽ + ρ' D̃) / (λ + ρ');   P̃ ← B̃ + Ṽ/ρ'      O(out·in)
 *   B = B̃ Qᵀ                                                               GEMM 2·out·in²
 *   P ← B + (ρ/ρ')(P − D);   D ← Π(P)                                      O(out·in)
 *   D̃ = D Q                                                                GEMM 2·out·in²
 * </pre>
 * which is the official B ← (Hs + ρI)⁻¹(Hs B0 − V + ρD), D ← Π(B + V/ρ), V ← V + ρ(B − D). The O(out·in) loops
 * run on the backend's threads in {@link RowTiles} (the sums by tiles of directions, each over the rows in order), on
 * rows copied into arrays, so their bytes do not depend on the thread count.
 */
final class AlpsAdmm {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Eigen-directions per task of {@link #weightedSquares}. */
    private static final int SUM_COLUMNS = 256;

    /** What the ADMM returns: its trace, restarts, the relative error of Π(B) and the last ρ. */
    record Outcome(List<Alps.Iteration> trace, int restarts, double admmObjective, double finalRho) {}

    private final AlpsScaledProblem problem;
    private final AlpsProjection projection;
    private final Alps.Options options;
    private final TensorOps ops;
    private final int out;
    private final int in;
    private final long total;
    private final Tensor dense; // (out, in) B0 = W S, the scaled dense weight
    private final Tensor denseEigen; // (out, in) B̃0 = B0 Q
    private final Tensor iterate; // (out, in) B
    private final Tensor iterateEigen; // (out, in) B̃
    private final Tensor shifted; // (out, in) P = B + V/ρ before the projection
    private final Tensor shiftedEigen; // (out, in) P̃
    private final Tensor sparse; // (out, in) D = Π(P); after the ADMM the final scaled weight
    private final Tensor sparseEigen; // (out, in) D̃ = D Q
    private final long[] zeros; // zero pattern of D, one bit per entry
    private final long[] previousZeros; // zero pattern of the previous iteration's D
    private final long[] checkedZeros; // zero pattern at the previous schedule check
    private final double denseEnergy; // B0ᵀ Hs B0 = Σ λ_j ||B̃0[:, j]||²

    /** Allocates the state in {@code arena} and sets B0 = W S from {@code weight} (out, in) F32 (not modified). */
    AlpsAdmm(
            AlpsScaledProblem problem,
            AlpsProjection projection,
            Tensor weight,
            Alps.Options options,
            Arena arena,
            TensorOps ops) {
        this.problem = problem;
        this.projection = projection;
        this.options = options;
        this.ops = ops;
        this.out = weight.rows();
        this.in = weight.cols();
        this.total = (long) out * in;
        this.dense = Tensor.allocate(arena, DType.F32, out, in);
        this.denseEigen = Tensor.allocate(arena, DType.F32, out, in);
        this.iterate = Tensor.allocate(arena, DType.F32, out, in);
        this.iterateEigen = Tensor.allocate(arena, DType.F32, out, in);
        this.shifted = Tensor.allocate(arena, DType.F32, out, in);
        this.shiftedEigen = Tensor.allocate(arena, DType.F32, out, in);
        this.sparse = Tensor.allocate(arena, DType.F32, out, in);
        this.sparseEigen = Tensor.allocate(arena, DType.F32, out, in);
        this.zeros = new long[projection.patternWords()];
        this.previousZeros = new long[zeros.length];
        this.checkedZeros = new long[zeros.length];
        weight.copyInto(dense);
        MemorySegment b0 = ops.shareable(dense.data());
        RowTiles.run(ops, out, RowTiles.ROWS, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long row = (long) r * in;
                for (int c = 0; c < in; c++) {
                    b0.setAtIndex(F32, row + c, (float) (b0.getAtIndex(F32, row + c) * problem.scale[c]));
                }
            }
        });
        ops.gemm(false, false, 1f, dense, problem.eigenvectors, 0f, denseEigen);
        this.denseEnergy = weightedSquares(denseEigen, null);
    }

    /** ||X W||² on the damped Gram: B0ᵀ Hs B0. */
    double denseEnergy() {
        return denseEnergy;
    }

    /** B0 (out, in), the scaled dense weight. */
    Tensor dense() {
        return dense;
    }

    /** D (out, in): after {@link #run} the projected B, the backsolve's start and then its result. */
    Tensor sparse() {
        return sparse;
    }

    /** Four (out, in) F32 buffers free after {@link #run}, for the backsolve. */
    Tensor[] scratch() {
        return new Tensor[] {iterate, iterateEigen, shifted, shiftedEigen};
    }

    /**
     * Runs the ADMM from D = Π(B0), V = 0 with the schedule (or fixed ρ) of the options; on return {@link #sparse()}
     * holds Π(B) of the last B, the official start of the backsolve.
     */
    Outcome run() {
        List<Alps.Iteration> trace = new ArrayList<>();
        boolean scheduled = options.scheduled();
        double rho = scheduled ? options.rho() : options.fixedRho();
        double previousRho = rho;
        double k = projection.supportSize();
        boolean grown = false;
        int restarts = 0;
        restart();
        System.arraycopy(zeros, 0, checkedZeros, 0, zeros.length);
        for (int i = 0; i < options.maxIterations(); i++) {
            updateIterate(previousRho, rho);
            ops.gemm(false, true, 1f, iterateEigen, problem.eigenvectors, 0f, iterate);
            updateShifted(previousRho / rho);
            projection.project(shifted, sparse, zeros);
            long changes = AlpsProjection.differences(zeros, previousZeros);
            System.arraycopy(zeros, 0, previousZeros, 0, zeros.length);
            ops.gemm(false, false, 1f, sparse, problem.eigenvectors, 0f, sparseEigen);
            double objective = weightedSquares(sparseEigen, denseEigen) / denseEnergy;
            double used = rho;
            previousRho = rho;
            boolean restart = false;
            boolean stop = false;
            if ((i + 1) % options.updateInterval() == 0) {
                long checked = AlpsProjection.differences(zeros, checkedZeros);
                double fraction = checked / k;
                if (scheduled) {
                    if (fraction > Alps.FAST_CHANGE) {
                        grown = true;
                        rho *= Alps.FAST_GROWTH;
                    } else if (fraction > Alps.SLOW_CHANGE) {
                        grown = true;
                        rho *= Alps.MEDIUM_GROWTH;
                    } else if (checked > 0) {
                        if (grown) {
                            rho *= Alps.SLOW_GROWTH;
                        } else {
                            rho /= Alps.SHRINK;
                            restart = true;
                        }
                    } else if (grown) {
                        if (rho >= options.stopRho()) {
                            stop = true;
                        } else {
                            rho *= Alps.SLOW_GROWTH;
                        }
                    } else {
                        rho /= Alps.SHRINK;
                    }
                    rho = Math.min(rho, Alps.MAX_RHO);
                }
                System.arraycopy(zeros, 0, checkedZeros, 0, zeros.length);
                boolean large = !scheduled || !grown || rho >= options.stopRho();
                if (i >= options.switchIteration() && fraction < Alps.SETTLED_CHANGE && large) {
                    stop = true;
                }
            }
            trace.add(new Alps.Iteration(i, used, objective, changes, restart));
            if (restart && !stop) {
                restarts++;
                restart();
            }
            if (stop) {
                break;
            }
        }
        projection.project(iterate, sparse, zeros);
        double admmObjective = relativeError(sparse);
        return new Outcome(trace, restarts, admmObjective, rho);
    }

    /**
     * The relative error {@code (X − B0)ᵀHs(X − B0) / B0ᵀHs B0} of a scaled (out, in) weight, by one GEMM into the
     * eigenbasis; overwrites the D̃ buffer.
     */
    double relativeError(Tensor scaledWeight) {
        ops.gemm(false, false, 1f, scaledWeight, problem.eigenvectors, 0f, sparseEigen);
        return weightedSquares(sparseEigen, denseEigen) / denseEnergy;
    }

    /** D = Π(B0), P = D (V = 0), their eigenbasis images, B = B0; the pattern of D becomes the previous one. */
    private void restart() {
        projection.project(dense, sparse, zeros);
        System.arraycopy(zeros, 0, previousZeros, 0, zeros.length);
        copy(sparse, shifted);
        ops.gemm(false, false, 1f, sparse, problem.eigenvectors, 0f, sparseEigen);
        copy(sparseEigen, shiftedEigen);
        copy(dense, iterate);
    }

    /** The B-update in the eigenbasis, and P̃ = B̃ + Ṽ/ρ' with Ṽ = ρ(P̃ − D̃); ρ the previous ρ, ρ' the new one. */
    private void updateIterate(double previousRho, double rho) {
        float[] lambda = new float[in]; // (in) λ_j
        float[] inverse = new float[in]; // (in) 1 / (λ_j + ρ')
        for (int j = 0; j < in; j++) {
            lambda[j] = (float) problem.eigenvalues[j];
            inverse[j] = (float) (1.0 / (problem.eigenvalues[j] + rho));
        }
        float oldRho = (float) previousRho;
        float newRho = (float) rho;
        float invRho = (float) (1.0 / rho);
        MemorySegment b0 = ops.shareable(denseEigen.data());
        MemorySegment p = ops.shareable(shiftedEigen.data());
        MemorySegment d = ops.shareable(sparseEigen.data());
        MemorySegment b = ops.shareable(iterateEigen.data());
        RowTiles.run(ops, out, RowTiles.ROWS, (r0, r1) -> {
            float[] b0Row = new float[in];
            float[] pRow = new float[in];
            float[] dRow = new float[in];
            float[] bRow = new float[in];
            for (int r = r0; r < r1; r++) {
                long offset = (long) r * in * 4;
                MemorySegment.copy(b0, F32, offset, b0Row, 0, in);
                MemorySegment.copy(p, F32, offset, pRow, 0, in);
                MemorySegment.copy(d, F32, offset, dRow, 0, in);
                for (int j = 0; j < in; j++) {
                    float dj = dRow[j];
                    float v = oldRho * (pRow[j] - dj);
                    float bj = (lambda[j] * b0Row[j] - v + newRho * dj) * inverse[j];
                    bRow[j] = bj;
                    pRow[j] = bj + v * invRho;
                }
                MemorySegment.copy(bRow, 0, b, F32, offset, in);
                MemorySegment.copy(pRow, 0, p, F32, offset, in);
            }
        });
    }

    /** P ← B + V/ρ' = B + (ρ/ρ')(P − D) in the original basis. */
    private void updateShifted(double ratio) {
        float f = (float) ratio;
        MemorySegment b = ops.shareable(iterate.data());
        MemorySegment p = ops.shareable(shifted.data());
        MemorySegment d = ops.shareable(sparse.data());
        RowTiles.run(ops, out, RowTiles.ROWS, (r0, r1) -> {
            float[] bRow = new float[in];
            float[] pRow = new float[in];
            float[] dRow = new float[in];
            for (int r = r0; r < r1; r++) {
                long offset = (long) r * in * 4;
                MemorySegment.copy(b, F32, offset, bRow, 0, in);
                MemorySegment.copy(p, F32, offset, pRow, 0, in);
                MemorySegment.copy(d, F32, offset, dRow, 0, in);
                for (int j = 0; j < in; j++) {
                    pRow[j] = bRow[j] + f * (pRow[j] - dRow[j]);
                }
                MemorySegment.copy(pRow, 0, p, F32, offset, in);
            }
        });
    }

    /**
     * Σ_r Σ_j λ_j (x̃[r][j] − ỹ[r][j])² in f64, ỹ = 0 when {@code y} is null; each direction's sum over the rows in row
     * order, by tiles of {@link #SUM_COLUMNS} directions.
     */
    private double weightedSquares(Tensor x, Tensor y) {
        MemorySegment xs = ops.shareable(x.data());
        MemorySegment ys = y == null ? null : ops.shareable(y.data());
        double[] rowSums = new double[in]; // (in) Σ_r (x̃ − ỹ)² per eigen-direction
        RowTiles.run(ops, in, SUM_COLUMNS, (j0, j1) -> {
            int width = j1 - j0;
            float[] xRow = new float[width];
            float[] yRow = new float[width]; // zeros when y is null
            double[] sums = new double[width];
            for (int r = 0; r < out; r++) {
                long offset = ((long) r * in + j0) * 4;
                MemorySegment.copy(xs, F32, offset, xRow, 0, width);
                if (ys != null) {
                    MemorySegment.copy(ys, F32, offset, yRow, 0, width);
                }
                for (int j = 0; j < width; j++) {
                    double e = xRow[j] - yRow[j];
                    sums[j] += e * e;
                }
            }
            System.arraycopy(sums, 0, rowSums, j0, width);
        });
        double sum = 0;
        for (int j = 0; j < in; j++) {
            sum += problem.eigenvalues[j] * rowSums[j];
        }
        return sum;
    }

    private static void copy(Tensor from, Tensor to) {
        MemorySegment.copy(from.data(), 0, to.data(), 0, from.numel() * 4);
    }
}
