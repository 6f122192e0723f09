package dev.espalier.kernels;

import static dev.espalier.kernels.TestTensors.assertBitIdentical;
import static dev.espalier.kernels.TestTensors.assertElementsClose;
import static dev.espalier.kernels.TestTensors.assertNormClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The contract every {@link TensorOps} backend must meet, checked against the scalar oracle {@link ReferenceOps} on
 * fixed-seed random inputs: sizes that are not multiples of any vector length (1, 7, 33, 130), strided column views,
 * every transpose combination. Tolerances: GEMM and Gram in f32 within 1e-4 norm-wise relative error, f64 linear
 * algebra within 1e-9, element-wise operations within 1e-5 per element, SparseGPT's OBS sweep within 1e-5 norm-wise with
 * the same marks (and, since its contract fixes every rounding, bit-identical on one case).
 */
public abstract class TensorOpsContractTest {
    protected static final int[] SIZES = {1, 7, 33, 130};
    protected static final double GEMM_TOL = 1e-4;
    protected static final double F64_TOL = 1e-9;
    protected static final double ELEMENT_TOL = 1e-5;
    protected static final double SWEEP_TOL = 1e-5;

    protected final ReferenceOps reference = new ReferenceOps();
    protected TensorOps ops;
    protected Arena arena;
    protected TestTensors rnd;

    /** A fresh backend under test; closed after each test. */
    protected abstract TensorOps createBackend();

    @BeforeEach
    void openBackend() {
        ops = createBackend();
        arena = Arena.ofConfined(); // confined on purpose: backends must cope with owner-thread-only memory
        rnd = new TestTensors(arena, 20261122L);
    }

    @AfterEach
    void closeBackend() {
        ops.close();
        arena.close();
    }

    // ---------------------------------------------------------------- GEMM

    @Test
    void gemmMatchesReferenceForEveryTransposeAndOddSizes() {
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                for (int m : SIZES) {
                    for (int n : SIZES) {
                        for (int k : SIZES) {
                            checkGemm(transA, transB, m, n, k, 0.75f, -0.5f);
                        }
                    }
                }
            }
        }
    }

    @Test
    void gemmMatchesReferenceOnLargerAndSkinnyShapes() {
        int[][] shapes = {
            {200, 300, 150},
            {257, 129, 260},
            {1, 700, 300},
            {3, 517, 260},
            {4, 64, 1000},
            {5, 300, 200},
            {12, 400, 300},
            {300, 5, 200},
            {70, 70, 70},
            {64, 64, 64}
        };
        for (int[] s : shapes) {
            for (boolean transA : new boolean[] {false, true}) {
                for (boolean transB : new boolean[] {false, true}) {
                    checkGemm(transA, transB, s[0], s[1], s[2], 1f, 0f);
                    checkGemm(transA, transB, s[0], s[1], s[2], -1.5f, 2f);
                }
            }
        }
    }

    /** c = alpha op(a) op(b) + beta c from the backend and from the reference, on the same random inputs. */
    protected void checkGemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float beta) {
        Tensor a = transA ? rnd.f32(k, m) : rnd.f32(m, k);
        Tensor b = transB ? rnd.f32(n, k) : rnd.f32(k, n);
        Tensor c = rnd.f32(m, n);
        Tensor expected = rnd.copy(c);
        reference.gemm(transA, transB, alpha, a, b, beta, expected);
        ops.gemm(transA, transB, alpha, a, b, beta, c);
        assertNormClose(
                expected,
                c,
                GEMM_TOL,
                "gemm transA=" + transA + " transB=" + transB + " m=" + m + " n=" + n + " k=" + k + " alpha=" + alpha
                        + " beta=" + beta);
    }

    @ParameterizedTest
    @ValueSource(ints = {7, 130, 300})
    void gemmReadsAndWritesStridedColumnViews(int size) {
        for (boolean transA : new boolean[] {false, true}) {
            for (boolean transB : new boolean[] {false, true}) {
                int m = size;
                int n = size / 2 + 3;
                int k = size + 1;
                Tensor a = transA ? rnd.stridedView(k, m, 3, m + 9) : rnd.stridedView(m, k, 2, k + 5);
                Tensor b = transB ? rnd.stridedView(n, k, 1, k + 4) : rnd.stridedView(k, n, 5, n + 7);
                Tensor wide = rnd.f32(m, n + 11); // c is columns [6, 6 + n) of it
                Tensor c = wide.columnSlice(6, 6 + n);
                Tensor before = rnd.copy(wide);
                Tensor expected = rnd.copy(c);
                reference.gemm(transA, transB, 1.25f, a, b, 0.5f, expected);
                ops.gemm(transA, transB, 1.25f, a, b, 0.5f, c);
                String what = "strided gemm " + m + "x" + n + "x" + k + " transA=" + transA + " transB=" + transB;
                assertNormClose(expected, c, GEMM_TOL, what);
                assertBitIdentical(before.columnSlice(0, 6), wide.columnSlice(0, 6), what + ": columns left of c");
                assertBitIdentical(
                        before.columnSlice(6 + n, n + 11),
                        wide.columnSlice(6 + n, n + 11),
                        what + ": columns right of c");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 130, 300})
    void gemmWithBetaZeroIgnoresNaNInC(int size) {
        for (boolean transB : new boolean[] {false, true}) {
            Tensor a = rnd.f32(size, size + 2);
            Tensor b = transB ? rnd.f32(size + 1, size + 2) : rnd.f32(size + 2, size + 1);
            Tensor c = rnd.filled(DType.F32, Double.NaN, size, size + 1);
            Tensor expected = rnd.zeros(DType.F32, size, size + 1);
            reference.gemm(false, transB, 1f, a, b, 0f, expected);
            ops.gemm(false, transB, 1f, a, b, 0f, c);
            assertNormClose(expected, c, GEMM_TOL, "gemm beta=0 over NaN, size " + size + " transB=" + transB);
        }
    }

    @Test
    void gemmWithEmptyInnerDimensionScalesC() {
        Tensor a = rnd.f32(5, 0);
        Tensor b = rnd.f32(0, 6);
        Tensor c = rnd.f32(5, 6);
        Tensor expected = rnd.copy(c);
        reference.gemm(false, false, 1f, a, b, 0.5f, expected);
        ops.gemm(false, false, 1f, a, b, 0.5f, c);
        assertNormClose(expected, c, GEMM_TOL, "gemm k=0");
    }

    @ParameterizedTest
    @ValueSource(strings = {"BF16", "F16"})
    void linearReadsHalfPrecisionWeights(String dtype) {
        for (int rows : new int[] {1, 3, 130}) {
            Tensor x = rnd.f32(rows, 70);
            Tensor w = rnd.uniform(DType.valueOf(dtype), 33, 70);
            Tensor out = rnd.filled(DType.F32, Double.NaN, rows, 33);
            Tensor expected = rnd.zeros(DType.F32, rows, 33);
            reference.linear(x, w, expected);
            ops.linear(x, w, out);
            assertNormClose(expected, out, GEMM_TOL, "linear with " + dtype + " weights, rows " + rows);
        }
    }

    @Test
    void gemmRejectsMismatchedShapes() {
        Tensor a = rnd.f32(3, 4);
        Tensor b = rnd.f32(5, 6);
        Tensor c = rnd.f32(3, 6);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> ops.gemm(false, false, 1f, a, b, 0f, c));
        assertTrue(e.getMessage().startsWith("gemm:"), e.getMessage());
    }

    // ---------------------------------------------------------------- Gram

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F64"})
    void accumulateGramAddsScaledXtXToBothTriangles(String gType) {
        DType dtype = DType.valueOf(gType);
        double tol = dtype == DType.F64 ? 1e-12 : GEMM_TOL;
        for (int n : new int[] {1, 7, 130}) {
            for (int d : SIZES) {
                Tensor x = n == 7 ? rnd.stridedView(n, d, 2, d + 3) : rnd.f32(n, d);
                Tensor g = rnd.spd(dtype, d, 0.5); // symmetric on entry, as an accumulator always is
                Tensor expected = rnd.copy(g);
                reference.accumulateGram(x, 0.25f, expected);
                ops.accumulateGram(x, 0.25f, g);
                assertNormClose(expected, g, tol, "accumulateGram " + gType + " n=" + n + " d=" + d);
                for (int i = 0; i < d; i++) {
                    for (int j = 0; j < i; j++) {
                        assertEquals(g.getDouble(i, j), g.getDouble(j, i), "g symmetric at " + i + "," + j);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- Cholesky and triangular solves

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F64"})
    void choleskyMatchesReference(String type) {
        DType dtype = DType.valueOf(type);
        for (int n : SIZES) {
            Tensor a = rnd.spd(dtype, n, 0.1);
            Tensor expected = rnd.copy(a);
            reference.cholesky(expected);
            ops.cholesky(a);
            assertNormClose(expected, a, dtype == DType.F64 ? F64_TOL : GEMM_TOL, "cholesky " + type + " n=" + n);
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                    assertEquals(
                            0.0, a.getDouble(i, j), "cholesky " + type + ": strict upper triangle at " + i + "," + j);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F64"})
    void choleskyThrowsOnIndefiniteMatrix(String type) {
        for (int n : new int[] {7, 130}) {
            Tensor a = rnd.spd(DType.valueOf(type), n, 0.1);
            a.set(5, 5, -3.0); // the leading minors 1..5 stay positive; minor 6 is not
            NotPositiveDefiniteException e = assertThrows(NotPositiveDefiniteException.class, () -> ops.cholesky(a));
            assertEquals(5, e.failedColumn(), "cholesky " + type + " n=" + n + ": failed column");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F64"})
    void solveLowerTriangularMatchesReference(String type) {
        DType dtype = DType.valueOf(type);
        for (int n : SIZES) {
            Tensor l = rnd.spd(dtype, n, 0.5);
            reference.cholesky(l); // a well-conditioned lower triangular factor
            for (boolean transpose : new boolean[] {false, true}) {
                for (int m : new int[] {1, 7, 33}) {
                    Tensor b = rnd.uniform(dtype, n, m);
                    Tensor expected = rnd.copy(b);
                    reference.solveLowerTriangular(l, transpose, expected);
                    ops.solveLowerTriangular(l, transpose, b);
                    assertNormClose(
                            expected,
                            b,
                            dtype == DType.F64 ? F64_TOL : GEMM_TOL,
                            "solveLowerTriangular " + type + " n=" + n + " m=" + m + " transpose=" + transpose);
                }
            }
        }
    }

    // ---------------------------------------------------------------- eigendecomposition

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 7, 33, 130})
    void symmetricEigenReconstructsTheMatrix(int n) {
        Tensor a = rnd.symmetric(n);
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                a.set(i, j, Double.NaN); // only the lower triangle may be read
            }
        }
        Tensor before = rnd.copy(a);
        Tensor values = rnd.zeros(DType.F64, n);
        Tensor vectors = rnd.zeros(DType.F64, n, n);
        ops.symmetricEigen(a, values, vectors);
        assertBitIdentical(before, a, "symmetricEigen must not modify a");

        Tensor refValues = rnd.zeros(DType.F64, n);
        Tensor refVectors = rnd.zeros(DType.F64, n, n);
        reference.symmetricEigen(a, refValues, refVectors);
        assertNormClose(refValues, values, F64_TOL, "eigenvalues n=" + n);
        for (int i = 1; i < n; i++) {
            assertTrue(values.getFlatDouble(i - 1) <= values.getFlatDouble(i), "eigenvalues ascending at " + i);
        }
        double norm = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                norm = Math.max(norm, Math.abs(a.getDouble(Math.max(i, j), Math.min(i, j))));
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double vdv = 0;
                double vtv = 0;
                for (int p = 0; p < n; p++) {
                    vdv += vectors.getDouble(i, p) * values.getFlatDouble(p) * vectors.getDouble(j, p);
                    vtv += vectors.getDouble(p, i) * vectors.getDouble(p, j);
                }
                double aij = a.getDouble(Math.max(i, j), Math.min(i, j));
                assertEquals(aij, vdv, F64_TOL * Math.max(1, norm) * n, "V diag(w) Vᵀ at " + i + "," + j);
                assertEquals(i == j ? 1.0 : 0.0, vtv, F64_TOL * n, "VᵀV at " + i + "," + j);
            }
        }
    }

    // ---------------------------------------------------------------- masked conjugate gradient

    @Test
    void maskedConjugateGradientSolvesEachColumnOnItsSupport() {
        int d = 40;
        int m = 9;
        Tensor h = rnd.spd(DType.F32, d, 0.2);
        Tensor b = rnd.f32(d, m);
        Tensor mask = rnd.mask(d, m, 0.6);
        for (int i = 0; i < d; i++) {
            mask.set(i, 0, 1); // column 0: full support
            mask.set(i, 1, 0); // column 1: empty support
        }
        Tensor x = rnd.f32(d, m); // a starting point that is non-zero off the supports too
        int iterations = ops.maskedConjugateGradient(h, b, mask, x, 500, 1e-6);
        assertTrue(iterations > 0 && iterations <= 500, "iterations " + iterations);

        for (int col = 0; col < m; col++) {
            int[] support = supportOf(mask, col);
            int s = support.length;
            for (int i = 0; i < d; i++) {
                if (mask.get(i, col) == 0) {
                    assertEquals(0.0, x.getDouble(i, col), "x off the support of column " + col + " at row " + i);
                }
            }
            if (s == 0) {
                continue;
            }
            Tensor sub = rnd.zeros(DType.F64, s, s); // H[S, S]
            Tensor rhs = rnd.zeros(DType.F64, s, 1); // b[S, col]
            for (int p = 0; p < s; p++) {
                for (int q = 0; q < s; q++) {
                    sub.set(p, q, h.getDouble(support[p], support[q]));
                }
                rhs.set(p, 0, b.getDouble(support[p], col));
            }
            reference.cholesky(sub);
            reference.solveLowerTriangular(sub, false, rhs);
            reference.solveLowerTriangular(sub, true, rhs);
            Tensor got = rnd.zeros(DType.F64, s, 1);
            for (int p = 0; p < s; p++) {
                got.set(p, 0, x.getDouble(support[p], col));
            }
            assertNormClose(rhs, got, 1e-4, "masked CG column " + col + " (support " + s + ")");
        }
    }

    @Test
    void maskedConjugateGradientWithZeroIterationsOnlyZeroesOffSupport() {
        Tensor h = rnd.spd(DType.F32, 7, 0.5);
        Tensor b = rnd.f32(7, 3);
        Tensor mask = rnd.mask(7, 3, 0.5);
        Tensor x = rnd.f32(7, 3);
        Tensor before = rnd.copy(x);
        assertEquals(0, ops.maskedConjugateGradient(h, b, mask, x, 0, 1e-6));
        for (int i = 0; i < 7; i++) {
            for (int j = 0; j < 3; j++) {
                assertEquals(mask.get(i, j) == 0 ? 0f : before.get(i, j), x.get(i, j), "x at " + i + "," + j);
            }
        }
    }

    private static int[] supportOf(Tensor mask, int col) {
        return java.util.stream.IntStream.range(0, mask.rows())
                .filter(i -> mask.get(i, col) != 0)
                .toArray();
    }

    // ---------------------------------------------------------------- SparseGPT's OBS sweep

    /** (rows, k): rows around the CPU tile (64) and vector lengths, k around the update group (8) and N:M groups. */
    private static final int[][] SWEEP_SHAPES = {{1, 1}, {7, 5}, {33, 17}, {64, 8}, {65, 9}, {130, 33}, {200, 130}};

    /**
     * A (k, k) upper-triangular factor as SparseGPT's U: Lᵀ for the Cholesky factor L of a random SPD matrix, seen as
     * the strided block [3, 3 + k) of a (k + 6)-wide one.
     */
    private Tensor upperFactor(int k) {
        Tensor l = rnd.spd(DType.F32, k + 6, 0.5);
        reference.cholesky(l);
        Tensor u = rnd.zeros(DType.F32, k + 6, k + 6);
        for (int i = 0; i < k + 6; i++) {
            for (int j = i; j < k + 6; j++) {
                u.set(i, j, l.getDouble(j, i));
            }
        }
        return u.rowSlice(3, 3 + k).columnSlice(3, 3 + k);
    }

    /** The sweep by the backend and by the reference on copies of the same inputs; returns {w, errors, marks} of both. */
    private Tensor[] sweepBoth(int rows, int k, int nmKeep, int nmGroup, String what) {
        Tensor u = upperFactor(k);
        Tensor w = rnd.stridedView(rows, k, 2, k + 5);
        Tensor marks = nmGroup == 0 ? rnd.mask(rows, k, 0.5) : rnd.filled(DType.F32, Double.NaN, rows, k);
        Tensor errors = rnd.filled(DType.F32, Double.NaN, rows, k + 3).columnSlice(1, 1 + k);
        Tensor wExpected = rnd.copy(w);
        Tensor marksExpected = rnd.copy(marks);
        Tensor errorsExpected = rnd.copy(errors);
        Tensor uBefore = rnd.copy(u);
        reference.obsSweep(u, nmKeep, nmGroup, marksExpected, wExpected, errorsExpected);
        ops.obsSweep(u, nmKeep, nmGroup, marks, w, errors);
        assertBitIdentical(uBefore, u, what + ": u must not be modified");
        assertBitIdentical(marksExpected, marks, what + ": marks");
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < k; c++) {
                if (marks.get(r, c) == 1f) {
                    assertEquals(0f, w.get(r, c), what + ": pruned weight at " + r + "," + c);
                }
            }
        }
        return new Tensor[] {wExpected, w, errorsExpected, errors, marks};
    }

    @Test
    void obsSweepWithGivenMarksMatchesReference() {
        for (int[] s : SWEEP_SHAPES) {
            String what = "obsSweep unstructured rows=" + s[0] + " k=" + s[1];
            Tensor[] t = sweepBoth(s[0], s[1], 0, 0, what);
            assertNormClose(t[0], t[1], SWEEP_TOL, what + ": w");
            assertNormClose(t[2], t[3], SWEEP_TOL, what + ": errors");
        }
    }

    @Test
    void obsSweepChoosesNmMarksAsTheReference() {
        int[][] patterns = {{2, 4}, {4, 8}, {1, 3}, {2, 16}}; // 1:3 and 2:16 straddle and span the update group of 8
        for (int[] p : patterns) {
            for (int[] s : SWEEP_SHAPES) {
                for (int k : new int[] {s[1], s[1] + p[1] + 1}) { // the second with a trailing partial group
                    String what = "obsSweep " + p[0] + ":" + p[1] + " rows=" + s[0] + " k=" + k;
                    Tensor[] t = sweepBoth(s[0], k, p[0], p[1], what);
                    assertNormClose(t[0], t[1], SWEEP_TOL, what + ": w");
                    assertNormClose(t[2], t[3], SWEEP_TOL, what + ": errors");
                    Tensor marks = t[4];
                    for (int r = 0; r < s[0]; r++) {
                        for (int a = 0; a < k; a += p[1]) {
                            int g = Math.min(p[1], k - a);
                            int kept = g == p[1] ? p[0] : (g * p[0] + p[1] - 1) / p[1];
                            int marked = 0;
                            for (int c = a; c < a + g; c++) {
                                marked += (int) marks.get(r, c);
                            }
                            assertEquals(g - kept, marked, what + ": marks of row " + r + " in the group at " + a);
                        }
                    }
                }
            }
        }
    }

    @Test
    void obsSweepIsBitIdenticalToReference() {
        for (int[] nm : new int[][] {{0, 0}, {2, 4}, {1, 3}}) {
            String what = "obsSweep " + nm[0] + ":" + nm[1] + " rows=130 k=37";
            Tensor[] t = sweepBoth(130, 37, nm[0], nm[1], what);
            assertBitIdentical(t[0], t[1], what + ": w");
            assertBitIdentical(t[2], t[3], what + ": errors");
        }
    }

    @Test
    void obsSweepRejectsBadArguments() {
        Tensor u = upperFactor(4);
        Tensor w = rnd.f32(3, 4);
        Tensor marks = rnd.zeros(DType.F32, 3, 4);
        Tensor errors = rnd.zeros(DType.F32, 3, 4);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> ops.obsSweep(u, 3, 2, marks, w, errors));
        assertTrue(e.getMessage().startsWith("obsSweep:"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class, () -> ops.obsSweep(u, 0, 0, marks, w, rnd.zeros(DType.F32, 3, 5)));
        assertTrue(e.getMessage().startsWith("obsSweep: errors"), e.getMessage());
    }

    // ---------------------------------------------------------------- element-wise and fused operations

    @Test
    void rmsNormMatchesReference() {
        for (int rows : new int[] {1, 7}) {
            for (int d : SIZES) {
                for (DType wType : new DType[] {DType.F32, DType.BF16}) {
                    Tensor x = rnd.f32(rows, d);
                    Tensor weight = rnd.uniform(wType, d);
                    Tensor out = rnd.filled(DType.F32, Double.NaN, rows, d);
                    Tensor expected = rnd.zeros(DType.F32, rows, d);
                    reference.rmsNorm(x, weight, 1e-5f, expected);
                    ops.rmsNorm(x, weight, 1e-5f, out);
                    assertElementsClose(expected, out, ELEMENT_TOL, "rmsNorm rows=" + rows + " d=" + d + " " + wType);
                    ops.rmsNorm(x, weight, 1e-5f, x); // in place
                    assertElementsClose(expected, x, ELEMENT_TOL, "rmsNorm in place rows=" + rows + " d=" + d);
                }
            }
        }
    }

    @Test
    void ropeAtAStartPositionMatchesReference() {
        for (int headDim : new int[] {2, 14, 66, 130}) {
            for (int heads : new int[] {1, 3}) {
                Tensor invFreq = rnd.zeros(DType.F32, headDim / 2);
                for (int i = 0; i < headDim / 2; i++) {
                    invFreq.setFlat(i, Math.pow(10000, -2.0 * i / headDim));
                }
                Tensor x = rnd.f32(7, heads * headDim);
                Tensor expected = rnd.copy(x);
                reference.rope(expected, headDim, 37, invFreq);
                ops.rope(x, headDim, 37, invFreq);
                assertElementsClose(expected, x, ELEMENT_TOL, "rope headDim=" + headDim + " heads=" + heads);
            }
        }
    }

    @Test
    void causalSoftmaxWithAnOffsetAndASlidingWindowMatchesReference() {
        for (int t : SIZES) {
            for (int n : new int[] {1, 7}) {
                for (int first : new int[] {0, t - n, t / 2, -2}) {
                    for (int window : new int[] {0, 1, 5, t / 3 + 1}) {
                        Tensor scores = rnd.f32(n, t);
                        Tensor expected = rnd.copy(scores);
                        reference.causalSoftmax(expected, first, 0.125f, window);
                        ops.causalSoftmax(scores, first, 0.125f, window);
                        String what = "causalSoftmax t=" + t + " n=" + n + " first=" + first + " window=" + window;
                        assertElementsClose(expected, scores, ELEMENT_TOL, what);
                        for (int r = 0; r < n; r++) {
                            int position = first + r;
                            for (int c = 0; c < t; c++) {
                                boolean visible = c <= position && (window == 0 || position - c < window);
                                if (!visible) {
                                    assertEquals(0f, scores.get(r, c), what + ": masked entry " + r + "," + c);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void siluMulAddAndAddRowVectorMatchReference() {
        for (int rows : new int[] {1, 7}) {
            for (int d : SIZES) {
                Tensor gate = rnd.f32(rows, d);
                Tensor up = rnd.f32(rows, d);
                Tensor out = rnd.zeros(DType.F32, rows, d);
                Tensor expected = rnd.zeros(DType.F32, rows, d);
                reference.siluMul(gate, up, expected);
                ops.siluMul(gate, up, out);
                assertElementsClose(expected, out, ELEMENT_TOL, "siluMul rows=" + rows + " d=" + d);

                Tensor x = rnd.stridedView(rows, d, 1, d + 2);
                Tensor y = rnd.stridedView(rows, d, 2, d + 5);
                Tensor yExpected = rnd.copy(y);
                reference.add(x, yExpected);
                ops.add(x, y);
                assertElementsClose(yExpected, y, ELEMENT_TOL, "add strided rows=" + rows + " d=" + d);

                Tensor bias = rnd.uniform(DType.BF16, d);
                Tensor z = rnd.f32(rows, d);
                Tensor zExpected = rnd.copy(z);
                reference.addRowVector(bias, zExpected);
                ops.addRowVector(bias, z);
                assertElementsClose(zExpected, z, ELEMENT_TOL, "addRowVector rows=" + rows + " d=" + d);
            }
        }
        Tensor x = rnd.f32(3, 5, 33); // rank 3, contiguous
        Tensor y = rnd.f32(3, 5, 33);
        Tensor expected = rnd.copy(y);
        reference.add(x, expected);
        ops.add(x, y);
        assertElementsClose(expected, y, ELEMENT_TOL, "add rank 3");
    }
}
