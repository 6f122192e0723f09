package dev.espalier.kernels.cpu;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.NotPositiveDefiniteException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;

/**
 * Pure-Java Cholesky, triangular solve and f64 Gram accumulation, used by the CPU backend when OpenBLAS is not
 * loaded or a tensor lives on the Java heap. Row-oriented so that inner loops are contiguous dot products or axpys
 * (vectorised, scalar tails); every element is computed by one thread in a fixed order.
 */
final class JavaLinearAlgebra {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private JavaLinearAlgebra() {}

    /**
     * Cholesky–Banachiewicz in place on a contiguous (n, n) F32 or F64 matrix: the lower triangle becomes L, the
     * strict upper triangle zero. Accumulates in the matrix's own precision. Throws when a pivot is not positive.
     */
    static void cholesky(MemorySegment a, int n, DType dtype) {
        boolean f64 = dtype == DType.F64;
        for (int i = 0; i < n; i++) {
            long rowI = (long) i * n;
            for (int j = 0; j <= i; j++) {
                long rowJ = (long) j * n;
                double dot = f64 ? dotF64(a, rowI, a, rowJ, j) : dotF32(a, rowI, a, rowJ, j);
                double sum = (f64 ? a.getAtIndex(F64, rowI + j) : a.getAtIndex(F32, rowI + j)) - dot;
                if (i == j) {
                    if (!(sum > 0)) {
                        throw new NotPositiveDefiniteException(i, n);
                    }
                    set(a, f64, rowI + i, Math.sqrt(sum));
                } else {
                    double pivot = f64 ? a.getAtIndex(F64, rowJ + j) : a.getAtIndex(F32, rowJ + j);
                    set(a, f64, rowI + j, sum / pivot);
                }
            }
            for (int j = i + 1; j < n; j++) {
                set(a, f64, rowI + j, 0);
            }
        }
    }

    /**
     * b ← op(L)⁻¹ b for L (n, n) lower triangular and b (n, m), both contiguous of the same dtype: row by row,
     * b[i] ← (b[i] - Σ L[i][p] b[p]) / L[i][i] (forward), or with Lᵀ from the last row (backward). Each column of
     * b is independent, so column ranges run in parallel.
     */
    static void solveLower(
            Parallel par, MemorySegment l, boolean transpose, MemorySegment b, int n, int m, DType dtype) {
        boolean f64 = dtype == DType.F64;
        par.forRange(m, 64, (c0, c1) -> {
            int width = c1 - c0;
            for (int step = 0; step < n; step++) {
                int i = transpose ? n - 1 - step : step;
                long bi = (long) i * m + c0;
                if (!transpose) {
                    for (int p = 0; p < i; p++) {
                        double lip = f64 ? l.getAtIndex(F64, (long) i * n + p) : l.getAtIndex(F32, (long) i * n + p);
                        axpy(f64, -lip, b, (long) p * m + c0, bi, width);
                    }
                } else {
                    for (int p = i + 1; p < n; p++) {
                        double lpi = f64 ? l.getAtIndex(F64, (long) p * n + i) : l.getAtIndex(F32, (long) p * n + i);
                        axpy(f64, -lpi, b, (long) p * m + c0, bi, width);
                    }
                }
                double diag = f64 ? l.getAtIndex(F64, (long) i * n + i) : l.getAtIndex(F32, (long) i * n + i);
                for (int c = 0; c < width; c++) {
                    if (f64) {
                        b.setAtIndex(F64, bi + c, b.getAtIndex(F64, bi + c) / diag);
                    } else {
                        b.setAtIndex(F32, bi + c, (float) (b.getAtIndex(F32, bi + c) / diag));
                    }
                }
            }
        });
    }

    /**
     * Lower triangle of g (d, d) F64 += scale · xᵀx for x (rows, d) F32 with row stride ldx, accumulated in f64
     * over rows in order; g's rows are split over threads in blocks. The upper triangle is not touched.
     */
    static void gramLowerF64(
            Parallel par, MemorySegment x, long ldx, int rows, int d, double scale, MemorySegment g, long ldg) {
        int block = 32;
        par.forEachTask((d + block - 1) / block, t -> {
            int i0 = t * block;
            int i1 = Math.min(d, i0 + block);
            double[] acc = new double[(i1 - i0) * d]; // (i1 - i0, d) rows of the lower triangle being built
            double[] row = new double[d];
            for (int r = 0; r < rows; r++) {
                long xr = r * ldx;
                for (int j = 0; j < i1; j++) {
                    row[j] = x.getAtIndex(F32, xr + j);
                }
                for (int i = i0; i < i1; i++) {
                    double xi = row[i];
                    int base = (i - i0) * d;
                    for (int j = 0; j <= i; j++) {
                        acc[base + j] += xi * row[j];
                    }
                }
            }
            for (int i = i0; i < i1; i++) {
                for (int j = 0; j <= i; j++) {
                    long o = i * ldg + j;
                    g.setAtIndex(F64, o, g.getAtIndex(F64, o) + scale * acc[(i - i0) * d + j]);
                }
            }
        });
    }

    /** Copies the strict lower triangle of g (d, d) onto the upper one, in 32 x 32 tiles, rows of tiles in parallel. */
    static void mirrorLower(Parallel par, MemorySegment g, long ld, int d, DType dtype) {
        int tile = 32;
        boolean f64 = dtype == DType.F64;
        par.forRange((d + tile - 1) / tile, 1, (t0, t1) -> {
            for (int bi = t0; bi < t1; bi++) {
                int i0 = bi * tile;
                for (int j0 = i0; j0 < d; j0 += tile) { // upper tile (i0.., j0..) from lower tile (j0.., i0..)
                    for (int i = i0; i < Math.min(d, i0 + tile); i++) {
                        for (int j = Math.max(j0, i + 1); j < Math.min(d, j0 + tile); j++) {
                            if (f64) {
                                g.setAtIndex(F64, i * ld + j, g.getAtIndex(F64, j * ld + i));
                            } else {
                                g.setAtIndex(F32, i * ld + j, g.getAtIndex(F32, j * ld + i));
                            }
                        }
                    }
                }
            }
        });
    }

    private static void set(MemorySegment a, boolean f64, long index, double value) {
        if (f64) {
            a.setAtIndex(F64, index, value);
        } else {
            a.setAtIndex(F32, index, (float) value);
        }
    }

    /** Σ_{p < len} x[xo + p] y[yo + p] in f64 (indices in elements). */
    private static double dotF64(MemorySegment x, long xo, MemorySegment y, long yo, int len) {
        DoubleVector acc = DoubleVector.zero(DoubleVector.SPECIES_PREFERRED);
        int l = DoubleVector.SPECIES_PREFERRED.length();
        int p = 0;
        for (; p <= len - l; p += l) {
            DoubleVector a = DoubleVector.fromMemorySegment(DoubleVector.SPECIES_PREFERRED, x, (xo + p) * 8, NATIVE);
            acc = a.fma(DoubleVector.fromMemorySegment(DoubleVector.SPECIES_PREFERRED, y, (yo + p) * 8, NATIVE), acc);
        }
        double sum = VectorKernels.sumLanes(acc);
        for (; p < len; p++) {
            sum += x.getAtIndex(F64, xo + p) * y.getAtIndex(F64, yo + p);
        }
        return sum;
    }

    /** Σ_{p < len} x[xo + p] y[yo + p] in f32 (indices in elements). */
    private static float dotF32(MemorySegment x, long xo, MemorySegment y, long yo, int len) {
        FloatVector acc = FloatVector.zero(FloatVector.SPECIES_PREFERRED);
        int l = FloatVector.SPECIES_PREFERRED.length();
        int p = 0;
        for (; p <= len - l; p += l) {
            FloatVector a = FloatVector.fromMemorySegment(FloatVector.SPECIES_PREFERRED, x, (xo + p) * 4, NATIVE);
            acc = a.fma(FloatVector.fromMemorySegment(FloatVector.SPECIES_PREFERRED, y, (yo + p) * 4, NATIVE), acc);
        }
        float sum = VectorKernels.sumLanes(acc);
        for (; p < len; p++) {
            sum += x.getAtIndex(F32, xo + p) * y.getAtIndex(F32, yo + p);
        }
        return sum;
    }

    /** b[dst..dst+n) += alpha * b[src..src+n) (element indices), in the segment's precision. */
    private static void axpy(boolean f64, double alpha, MemorySegment b, long src, long dst, int n) {
        if (f64) {
            var species = DoubleVector.SPECIES_PREFERRED;
            DoubleVector va = DoubleVector.broadcast(species, alpha);
            int c = 0;
            for (; c <= n - species.length(); c += species.length()) {
                DoubleVector.fromMemorySegment(species, b, (src + c) * 8, NATIVE)
                        .fma(va, DoubleVector.fromMemorySegment(species, b, (dst + c) * 8, NATIVE))
                        .intoMemorySegment(b, (dst + c) * 8, NATIVE);
            }
            for (; c < n; c++) {
                b.setAtIndex(F64, dst + c, Math.fma(b.getAtIndex(F64, src + c), alpha, b.getAtIndex(F64, dst + c)));
            }
        } else {
            var species = FloatVector.SPECIES_PREFERRED;
            float a = (float) alpha;
            FloatVector va = FloatVector.broadcast(species, a);
            int c = 0;
            for (; c <= n - species.length(); c += species.length()) {
                FloatVector.fromMemorySegment(species, b, (src + c) * 4, NATIVE)
                        .fma(va, FloatVector.fromMemorySegment(species, b, (dst + c) * 4, NATIVE))
                        .intoMemorySegment(b, (dst + c) * 4, NATIVE);
            }
            for (; c < n; c++) {
                b.setAtIndex(F32, dst + c, Math.fma(b.getAtIndex(F32, src + c), a, b.getAtIndex(F32, dst + c)));
            }
        }
    }
}
