package dev.espalier.kernels.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.NotPositiveDefiniteException;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The oracle itself, on tiny cases computed by hand. */
class ReferenceOpsTest {
    private final ReferenceOps ops = new ReferenceOps();
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private Tensor f32(float[] values, int... shape) {
        return Tensor.ofFloats(arena, values, shape);
    }

    private Tensor f64(double[] values, int... shape) {
        return Tensor.ofDoubles(arena, values, shape);
    }

    @Test
    void gemmOfTwoByTwoMatrices() {
        Tensor a = f32(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = f32(new float[] {5, 6, 7, 8}, 2, 2);
        Tensor c = f32(new float[] {Float.NaN, Float.NaN, Float.NaN, Float.NaN}, 2, 2);
        ops.gemm(false, false, 1f, a, b, 0f, c);
        assertArrayEquals(new float[] {19, 22, 43, 50}, c.toFloatArray());
        ops.gemm(true, false, 1f, a, b, 0f, c); // aᵀ = [[1, 3], [2, 4]]
        assertArrayEquals(new float[] {26, 30, 38, 44}, c.toFloatArray());
        ops.gemm(false, true, 2f, a, b, -1f, c); // 2 a bᵀ - c, a bᵀ = [[17, 23], [39, 53]]
        assertArrayEquals(new float[] {8, 16, 40, 62}, c.toFloatArray());
    }

    @Test
    void gemmOnAColumnView() {
        Tensor wide = f32(new float[] {1, 2, 9, 3, 4, 9}, 2, 3);
        Tensor a = wide.columnSlice(0, 2); // [[1, 2], [3, 4]]
        Tensor c = f32(new float[4], 2, 2);
        ops.gemm(false, false, 1f, a, a, 0f, c);
        assertArrayEquals(new float[] {7, 10, 15, 22}, c.toFloatArray());
    }

    @Test
    void obsSweepOfOneRowWithGivenMarks() {
        Tensor u = f32(new float[] {2, 0.5f, 0, 1}, 2, 2);
        Tensor marks = f32(new float[] {1, 0}, 1, 2);
        Tensor w = f32(new float[] {1, 2}, 1, 2);
        Tensor errors = f32(new float[] {Float.NaN, Float.NaN}, 1, 2);
        ops.obsSweep(u, 0, 0, marks, w, errors); // err0 = 1 / 2, w1 = 2 − 0.5 · 0.5
        assertArrayEquals(new float[] {0, 1.75f}, w.toFloatArray());
        assertArrayEquals(new float[] {0.5f, 0}, errors.toFloatArray());
    }

    @Test
    void obsSweepChoosesOneToTwoMarks() {
        Tensor u = f32(new float[] {1, 0.5f, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 4, 4);
        Tensor marks = f32(new float[4], 1, 4);
        Tensor w = f32(new float[] {1, 3, 4, 2}, 1, 4);
        Tensor errors = f32(new float[4], 1, 4);
        ops.obsSweep(u, 1, 2, marks, w, errors); // scores 1 < 9: drop w0, w1 −= 1 · 0.5; then 16 > 4: drop w3
        assertArrayEquals(new float[] {1, 0, 0, 1}, marks.toFloatArray());
        assertArrayEquals(new float[] {0, 2.5f, 4, 0}, w.toFloatArray());
        assertArrayEquals(new float[] {1, 0, 0, 2}, errors.toFloatArray());
    }

    @Test
    void gramOfTwoRows() {
        Tensor x = f32(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor g = f64(new double[] {1, 0, 0, 1}, 2, 2);
        ops.accumulateGram(x, 0.5f, g); // xᵀx = [[10, 14], [14, 20]]
        assertArrayEquals(new double[] {6, 7, 7, 11}, g.toDoubleArray());
    }

    @Test
    void choleskyOfTwoByTwo() {
        Tensor a = f64(new double[] {4, 2, 2, 3}, 2, 2);
        ops.cholesky(a);
        assertArrayEquals(new double[] {2, 0, 1, Math.sqrt(2)}, a.toDoubleArray(), 1e-15);
    }

    @Test
    void choleskyOfIndefiniteMatrixNamesTheColumn() {
        Tensor a = f32(new float[] {1, 2, 2, 1}, 2, 2); // eigenvalues 3 and -1
        NotPositiveDefiniteException e = assertThrows(NotPositiveDefiniteException.class, () -> ops.cholesky(a));
        assertEquals(1, e.failedColumn());
    }

    @Test
    void triangularSolvesBothWays() {
        Tensor l = f64(new double[] {2, 0, 1, Math.sqrt(2)}, 2, 2);
        Tensor b = f64(new double[] {2, 3}, 2, 1);
        ops.solveLowerTriangular(l, false, b); // 2 y0 = 2, y0 + √2 y1 = 3
        assertArrayEquals(new double[] {1, Math.sqrt(2)}, b.toDoubleArray(), 1e-15);
        Tensor c = f64(new double[] {3, 2}, 2, 1);
        ops.solveLowerTriangular(l, true, c); // 2 x0 + x1 = 3, √2 x1 = 2
        assertArrayEquals(new double[] {(3 - Math.sqrt(2)) / 2, Math.sqrt(2)}, c.toDoubleArray(), 1e-15);
    }

    @Test
    void eigenOfTwoByTwoAndDiagonal() {
        Tensor a = f64(new double[] {2, Double.NaN, 1, 2}, 2, 2); // [[2, 1], [1, 2]], upper triangle unread
        Tensor w = f64(new double[2], 2);
        Tensor v = f64(new double[4], 2, 2);
        ops.symmetricEigen(a, w, v);
        assertArrayEquals(new double[] {1, 3}, w.toDoubleArray(), 1e-14);
        double s = Math.sqrt(0.5);
        assertEquals(s, Math.abs(v.getDouble(0, 0)), 1e-14); // (1, -1)/√2 up to sign
        assertEquals(-v.getDouble(0, 0), v.getDouble(1, 0), 1e-14);
        assertEquals(s, Math.abs(v.getDouble(0, 1)), 1e-14); // (1, 1)/√2 up to sign
        assertEquals(v.getDouble(0, 1), v.getDouble(1, 1), 1e-14);

        Tensor d = f64(new double[] {3, 0, 0, 0, -1, 0, 0, 0, 2}, 3, 3);
        Tensor w3 = f64(new double[3], 3);
        Tensor v3 = f64(new double[9], 3, 3);
        ops.symmetricEigen(d, w3, v3);
        assertArrayEquals(new double[] {-1, 2, 3}, w3.toDoubleArray(), 1e-15);
        assertArrayEquals(new double[] {0, 0, 1, 1, 0, 0, 0, 1, 0}, v3.toDoubleArray(), 1e-15);
    }

    @Test
    void maskedConjugateGradientOnTwoByTwo() {
        Tensor h = f32(new float[] {4, 1, 1, 3}, 2, 2);
        Tensor b = f32(new float[] {1, 1, 2, 2}, 2, 2); // both columns b = (1, 2)
        Tensor mask = f32(new float[] {1, 1, 1, 0}, 2, 2); // column 1: only row 0
        Tensor x = f32(new float[] {0, 5, 0, 5}, 2, 2);
        int iterations = ops.maskedConjugateGradient(h, b, mask, x, 10, 1e-12);
        assertEquals(2, iterations); // CG is exact after n = 2 steps
        assertEquals(1 / 11.0, x.get(0, 0), 1e-6); // H⁻¹ b = (1, 7) / 11
        assertEquals(7 / 11.0, x.get(1, 0), 1e-6);
        assertEquals(0.25, x.get(0, 1), 1e-6); // 4 x = 1
        assertEquals(0.0, x.get(1, 1));
    }

    @Test
    void rmsNormOfOneRow() {
        Tensor x = f32(new float[] {3, 4}, 1, 2); // mean square 12.5
        Tensor w = f32(new float[] {1, 2}, 2);
        Tensor out = f32(new float[2], 1, 2);
        ops.rmsNorm(x, w, 0f, out);
        double rms = Math.sqrt(12.5);
        assertArrayEquals(new float[] {(float) (3 / rms), (float) (8 / rms)}, out.toFloatArray(), 1e-6f);
    }

    @Test
    void ropeRotatesHalvesByPositionTimesFrequency() {
        Tensor x = f32(new float[] {1, 0, 0, 1}, 2, 2); // headDim 2, rows at positions 1 and 2
        Tensor invFreq = f32(new float[] {1}, 1);
        ops.rope(x, 2, 1, invFreq);
        assertArrayEquals(
                new float[] {(float) Math.cos(1), (float) Math.sin(1), (float) -Math.sin(2), (float) Math.cos(2)},
                x.toFloatArray(),
                1e-6f);
    }

    @Test
    void aSlidingWindowAlsoMasksKeysTooFarBack() {
        Tensor s = f32(new float[] {1, 2, 3, 4, 1, 2, 3, 4}, 2, 4); // queries at positions 2 and 3, window 2
        ops.causalSoftmax(s, 2, 1f, 2);
        double e2 = Math.exp(2);
        double e3 = Math.exp(3);
        double e4 = Math.exp(4);
        assertArrayEquals(
                new float[] {
                    0,
                    (float) (e2 / (e2 + e3)),
                    (float) (e3 / (e2 + e3)),
                    0,
                    0,
                    0,
                    (float) (e3 / (e3 + e4)),
                    (float) (e4 / (e3 + e4))
                },
                s.toFloatArray(),
                1e-6f);
    }

    @Test
    void causalSoftmaxMasksFutureKeys() {
        Tensor s = f32(new float[] {1, 2, 3, 1, 2, 3}, 2, 3); // queries at positions 1 and 2
        ops.causalSoftmax(s, 1, 1f, 0);
        double e1 = Math.exp(1);
        double e2 = Math.exp(2);
        double e3 = Math.exp(3);
        assertArrayEquals(
                new float[] {
                    (float) (e1 / (e1 + e2)),
                    (float) (e2 / (e1 + e2)),
                    0,
                    (float) (e1 / (e1 + e2 + e3)),
                    (float) (e2 / (e1 + e2 + e3)),
                    (float) (e3 / (e1 + e2 + e3))
                },
                s.toFloatArray(),
                1e-6f);
    }

    @Test
    void siluMulAddAndBias() {
        Tensor gate = f32(new float[] {0, 1}, 1, 2);
        Tensor up = f32(new float[] {2, 3}, 1, 2);
        Tensor out = f32(new float[2], 1, 2);
        ops.siluMul(gate, up, out);
        assertArrayEquals(new float[] {0, (float) (3 / (1 + Math.exp(-1)))}, out.toFloatArray(), 1e-6f);
        ops.add(f32(new float[] {1, 2}, 1, 2), out);
        ops.addRowVector(Tensor.allocate(arena, DType.BF16, 2), out);
        assertArrayEquals(new float[] {1, (float) (2 + 3 / (1 + Math.exp(-1)))}, out.toFloatArray(), 1e-6f);
    }
}
