package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The damped, Jacobi-scaled Gram of ALPS and its one eigendecomposition: {@code H = G + δI} with
 * {@code δ = dampFraction · mean(diag G)}, {@code s_i = sqrt(H_ii) + 1e-8}, {@code Hs = S⁻¹ H S⁻¹ = Q Λ Qᵀ}.
 * Hs is formed in f64 and decomposed in f64; Q and Hs are then kept in f32 for the GEMMs.
 */
final class AlpsScaledProblem {
    final int in;
    final double[] scale; // (in) s_i = sqrt(H_ii) + 1e-8
    final double[] eigenvalues; // (in) λ ascending, of Hs
    final Tensor eigenvectors; // (in, in) F32 Q, eigenvector j in column j
    final Tensor scaledGram; // (in, in) F32 Hs

    private AlpsScaledProblem(double[] scale, double[] eigenvalues, Tensor eigenvectors, Tensor scaledGram) {
        this.in = scale.length;
        this.scale = scale;
        this.eigenvalues = eigenvalues;
        this.eigenvectors = eigenvectors;
        this.scaledGram = scaledGram;
    }

    /**
     * Damps and scales {@code gram} (in, in) F32 or F64, the raw XᵀX (not modified), and decomposes it with one call
     * of {@link TensorOps#symmetricEigen}; the f32 results live in {@code arena}, the f64 work matrices are freed.
     */
    static AlpsScaledProblem of(Tensor gram, double dampFraction, Arena arena, TensorOps ops) {
        int n = gram.rows();
        double trace = 0;
        for (int i = 0; i < n; i++) {
            double g = gram.getDouble(i, i);
            if (!(g >= 0) || Double.isInfinite(g)) {
                throw new IllegalArgumentException("Alps: Gram diagonal entry " + i + " is " + g
                        + "; expected a finite non-negative sum of squares");
            }
            trace += g;
        }
        if (!(trace > 0)) {
            throw new IllegalArgumentException("Alps: the Gram's diagonal is zero (no calibration signal); expected"
                    + " a positive mean of the inputs' squares");
        }
        double damp = dampFraction * trace / n;
        double[] scale = new double[n];
        for (int i = 0; i < n; i++) {
            scale[i] = Math.sqrt(gram.getDouble(i, i) + damp) + Alps.SCALE_EPSILON;
        }
        double[] values = new double[n];
        Tensor vectors32 = Tensor.allocate(arena, DType.F32, n, n);
        Tensor scaled32 = Tensor.allocate(arena, DType.F32, n, n);
        try (Arena work = Arena.ofShared()) {
            Tensor scaled = Tensor.allocate(work, DType.F64, n, n); // (in, in) Hs in f64
            boolean direct = gram.isContiguous() && (gram.dtype() == DType.F32 || gram.dtype() == DType.F64);
            Tensor from = direct ? gram : gram.copyAs(work, DType.F64);
            boolean single = from.dtype() == DType.F32;
            MemorySegment source = ops.shareable(from.data());
            MemorySegment target = ops.shareable(scaled.data());
            MemorySegment target32 = ops.shareable(scaled32.data());
            RowTiles.run(ops, n, RowTiles.ROWS, (r0, r1) -> {
                double[] row = new double[n];
                float[] row32 = new float[n];
                for (int r = r0; r < r1; r++) {
                    long offset = (long) r * n;
                    if (single) {
                        MemorySegment.copy(source, ValueLayout.JAVA_FLOAT_UNALIGNED, offset * 4, row32, 0, n);
                        for (int c = 0; c < n; c++) {
                            row[c] = row32[c];
                        }
                    } else {
                        MemorySegment.copy(source, ValueLayout.JAVA_DOUBLE_UNALIGNED, offset * 8, row, 0, n);
                    }
                    for (int c = 0; c < n; c++) {
                        double h = row[c] + (r == c ? damp : 0.0);
                        double v = h / (scale[r] * scale[c]);
                        row[c] = v;
                        row32[c] = (float) v;
                    }
                    MemorySegment.copy(row, 0, target, ValueLayout.JAVA_DOUBLE_UNALIGNED, offset * 8, n);
                    MemorySegment.copy(row32, 0, target32, ValueLayout.JAVA_FLOAT_UNALIGNED, offset * 4, n);
                }
            });
            Tensor lambda = Tensor.allocate(work, DType.F64, n); // (in)
            Tensor vectors = Tensor.allocate(work, DType.F64, n, n); // (in, in) Q in f64
            ops.symmetricEigen(scaled, lambda, vectors);
            for (int i = 0; i < n; i++) {
                values[i] = lambda.getFlatDouble(i);
            }
            vectors.copyInto(vectors32);
        }
        return new AlpsScaledProblem(scale, values, vectors32, scaled32);
    }
}
