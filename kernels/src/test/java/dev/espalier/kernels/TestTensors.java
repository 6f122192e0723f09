package dev.espalier.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.SplittableRandom;

/** Random tensors from fixed seeds and the comparisons the kernel tests use. */
public final class TestTensors {
    private final Arena arena;
    private final SplittableRandom random;

    public TestTensors(Arena arena, long seed) {
        this.arena = arena;
        this.random = new SplittableRandom(seed);
    }

    /** Uniform values in [-1, 1). */
    public Tensor uniform(DType dtype, int... shape) {
        Tensor t = Tensor.allocate(arena, dtype, shape);
        for (long i = 0; i < t.numel(); i++) {
            t.setFlat(i, random.nextDouble(-1, 1));
        }
        return t;
    }

    public Tensor f32(int... shape) {
        return uniform(DType.F32, shape);
    }

    public Tensor zeros(DType dtype, int... shape) {
        return Tensor.allocate(arena, dtype, shape);
    }

    public Tensor filled(DType dtype, double value, int... shape) {
        Tensor t = Tensor.allocate(arena, dtype, shape);
        for (long i = 0; i < t.numel(); i++) {
            t.setFlat(i, value);
        }
        return t;
    }

    /** A contiguous copy (same dtype) of any tensor, strided views included. */
    public Tensor copy(Tensor t) {
        return t.copyAs(arena, t.dtype());
    }

    /** Columns [from, from + cols) of a new random (rows, width) matrix: a strided view. */
    public Tensor stridedView(int rows, int cols, int from, int width) {
        return f32(rows, width).columnSlice(from, from + cols);
    }

    /** A symmetric positive-definite (n, n) matrix xᵀx / rows + shift·I with x (2n + 3, n) random. */
    public Tensor spd(DType dtype, int n, double shift) {
        int rows = 2 * n + 3;
        double[] x = new double[rows * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = random.nextDouble(-1, 1);
        }
        Tensor a = Tensor.allocate(arena, dtype, n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int r = 0; r < rows; r++) {
                    s += x[r * n + i] * x[r * n + j];
                }
                s = s / rows + (i == j ? shift : 0);
                a.set(i, j, s);
                a.set(j, i, s);
            }
        }
        return a;
    }

    /** A random symmetric (n, n) F64 matrix. */
    public Tensor symmetric(int n) {
        Tensor a = Tensor.allocate(arena, DType.F64, n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double v = random.nextDouble(-1, 1);
                a.set(i, j, v);
                a.set(j, i, v);
            }
        }
        return a;
    }

    /** A 0/1 F32 mask where each entry is on with probability {@code density}. */
    public Tensor mask(int rows, int cols, double density) {
        Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t.set(r, c, random.nextDouble() < density ? 1 : 0);
            }
        }
        return t;
    }

    /** ||actual - expected||_F ≤ relTol · ||expected||_F (plus a tiny absolute floor for all-zero references). */
    public static void assertNormClose(Tensor expected, Tensor actual, double relTol, String what) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < e.length; i++) {
            if (Double.isNaN(a[i]) != Double.isNaN(e[i])) {
                fail(what + ": element " + i + " is " + a[i] + ", expected " + e[i]);
            }
            num += (a[i] - e[i]) * (a[i] - e[i]);
            den += e[i] * e[i];
        }
        double err = Math.sqrt(num);
        double bound = relTol * Math.sqrt(den) + 1e-30;
        assertTrue(
                err <= bound,
                what + ": norm-wise error " + err + " exceeds " + bound + " (relative tolerance " + relTol + ")");
    }

    /** Every element within {@code tol · max(1, |expected|)}. */
    public static void assertElementsClose(Tensor expected, Tensor actual, double tol, String what) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            double bound = tol * Math.max(1, Math.abs(e[i]));
            if (!(Math.abs(a[i] - e[i]) <= bound)) {
                fail(what + ": element " + i + " is " + a[i] + ", expected " + e[i] + " within " + bound);
            }
        }
    }

    /** Same shape and the same bits in every element. */
    public static void assertBitIdentical(Tensor expected, Tensor actual, String what) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            if (Double.doubleToRawLongBits(e[i]) != Double.doubleToRawLongBits(a[i])) {
                fail(what + ": element " + i + " is " + a[i] + ", expected bit-identical " + e[i]);
            }
        }
    }
}
