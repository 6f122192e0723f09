package dev.espalier.kernels.cpu;

import static dev.espalier.kernels.TestTensors.assertBitIdentical;
import static dev.espalier.kernels.TestTensors.assertNormClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.NotPositiveDefiniteException;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.TensorOpsContractTest;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The CPU backend (OpenBLAS + Vector API, 2 threads) against the contract, plus what is specific to it. */
class CpuOpsTest extends TensorOpsContractTest {

    @Override
    protected TensorOps createBackend() {
        return new CpuOps(2);
    }

    private CpuOps cpu() {
        return (CpuOps) ops;
    }

    @Test
    void openBlasLoadsOnThisMachine() {
        assertTrue(OpenBlas.available(), "OpenBLAS natives did not load from the org.bytedeco:openblas jar");
        assertTrue(cpu().usesOpenBlas());
        assertTrue(
                OpenBlas.get().config().startsWith("OpenBLAS 0.3.31"),
                OpenBlas.get().config());
    }

    @Test
    void everyGemmPathMatchesReference() {
        int[][] shapes = {{1, 33, 130}, {4, 130, 7}, {7, 33, 130}, {33, 130, 7}, {130, 33, 257}, {64, 96, 300}};
        for (CpuOps.GemmPath path : CpuOps.GemmPath.values()) {
            for (int[] s : shapes) {
                for (boolean transA : new boolean[] {false, true}) {
                    for (boolean transB : new boolean[] {false, true}) {
                        int m = s[0];
                        int n = s[1];
                        int k = s[2];
                        Tensor a = transA ? rnd.stridedView(k, m, 1, m + 3) : rnd.f32(m, k);
                        Tensor b = transB ? rnd.f32(n, k) : rnd.stridedView(k, n, 2, n + 2);
                        Tensor wide = rnd.filled(DType.F32, Double.NaN, m, n + 4);
                        Tensor c = wide.columnSlice(3, 3 + n);
                        Tensor expected = rnd.zeros(DType.F32, m, n);
                        reference.gemm(transA, transB, 0.5f, a, b, 0f, expected);
                        cpu().gemm(path, transA, transB, 0.5f, a, b, 0f, c);
                        assertNormClose(
                                expected,
                                c,
                                GEMM_TOL,
                                path + " " + m + "x" + n + "x" + k + " transA=" + transA + " transB=" + transB);
                    }
                }
            }
        }
    }

    @Test
    void heapTensorsTakeTheJavaPaths() {
        Tensor a = Tensor.of(MemorySegment.ofArray(rnd.f32(130, 70).toFloatArray()), DType.F32, 130, 70);
        Tensor b = Tensor.of(MemorySegment.ofArray(rnd.f32(70, 90).toFloatArray()), DType.F32, 70, 90);
        Tensor c = Tensor.of(MemorySegment.ofArray(new float[130 * 90]), DType.F32, 130, 90);
        Tensor expected = rnd.zeros(DType.F32, 130, 90);
        reference.gemm(false, false, 1f, a, b, 0f, expected);
        ops.gemm(false, false, 1f, a, b, 0f, c);
        assertNormClose(expected, c, GEMM_TOL, "gemm on heap segments");

        Tensor spd = rnd.spd(DType.F64, 33, 0.1);
        Tensor heap = Tensor.of(MemorySegment.ofArray(spd.toDoubleArray()), DType.F64, 33, 33);
        reference.cholesky(spd);
        ops.cholesky(heap);
        assertNormClose(spd, heap, F64_TOL, "cholesky on a heap segment");
    }

    /** The blocked factorisation (several 256-column blocks) agrees with the oracle and reports a late failed minor. */
    @ParameterizedTest
    @ValueSource(strings = {"F32", "F64"})
    void blockedCholeskyMatchesReferenceAcrossBlocks(String type) {
        DType dtype = DType.valueOf(type);
        Tensor a = rnd.spd(dtype, 600, 0.1);
        Tensor expected = rnd.copy(a);
        reference.cholesky(expected);
        ops.cholesky(a);
        assertNormClose(expected, a, dtype == DType.F64 ? 1e-9 : 1e-4, "blocked cholesky " + type);
        Tensor indefinite = rnd.spd(dtype, 600, 0.1);
        indefinite.set(400, 400, -1e3);
        NotPositiveDefiniteException e =
                assertThrows(NotPositiveDefiniteException.class, () -> ops.cholesky(indefinite));
        assertEquals(400, e.failedColumn());
    }

    /** Every operation gives the same bits on 1 and on 2 threads, on shapes large enough to be split. */
    @Test
    void oneAndTwoThreadsGiveBitIdenticalResults() {
        List<Function<CpuOps, Tensor>> runs = new ArrayList<>();
        Tensor a = rnd.f32(300, 270);
        Tensor b = rnd.f32(260, 270);
        Tensor a3 = rnd.f32(3, 270);
        for (CpuOps.GemmPath path : CpuOps.GemmPath.values()) {
            runs.add(o -> {
                Tensor c = rnd.zeros(DType.F32, 300, 260);
                o.gemm(path, false, true, 1f, a, b, 0f, c);
                return c;
            });
            runs.add(o -> {
                Tensor c = rnd.zeros(DType.F32, 3, 260);
                o.gemm(path, false, true, 1f, a3, b, 0f, c);
                return c;
            });
        }
        Tensor x = rnd.f32(257, 140);
        for (DType gType : new DType[] {DType.F32, DType.F64}) {
            runs.add(o -> {
                Tensor g = rnd.zeros(gType, 140, 140);
                o.accumulateGram(x, 0.5f, g);
                return g;
            });
        }
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            Tensor spd = rnd.spd(dtype, 300, 0.1);
            Tensor rhs = rnd.uniform(dtype, 300, 130);
            runs.add(o -> {
                Tensor l = rnd.copy(spd);
                o.cholesky(l);
                return l;
            });
            runs.add(o -> {
                Tensor l = rnd.copy(spd);
                reference.cholesky(l);
                Tensor y = rnd.copy(rhs);
                o.solveLowerTriangular(l, false, y);
                o.solveLowerTriangular(l, true, y);
                return y;
            });
        }
        Tensor sym = rnd.symmetric(130);
        runs.add(o -> {
            Tensor vectors = rnd.zeros(DType.F64, 130, 130);
            Tensor values = rnd.zeros(DType.F64, 130);
            o.symmetricEigen(sym, values, vectors);
            return vectors;
        });
        Tensor h = rnd.spd(DType.F32, 130, 0.2);
        Tensor rhs = rnd.f32(130, 150);
        Tensor mask = rnd.mask(130, 150, 0.5);
        runs.add(o -> {
            Tensor sol = rnd.zeros(DType.F32, 130, 150);
            o.maskedConjugateGradient(h, rhs, mask, sol, 50, 1e-7);
            return sol;
        });
        Tensor rows = rnd.f32(300, 130);
        Tensor weight = rnd.f32(130);
        runs.add(o -> {
            Tensor out = rnd.zeros(DType.F32, 300, 130);
            o.rmsNorm(rows, weight, 1e-6f, out);
            return out;
        });
        runs.add(o -> {
            Tensor s = rnd.copy(rows);
            o.causalSoftmax(s, 10, 0.3f, 0);
            return s;
        });
        try (CpuOps one = new CpuOps(1);
                CpuOps two = new CpuOps(2)) {
            for (int i = 0; i < runs.size(); i++) {
                assertBitIdentical(runs.get(i).apply(one), runs.get(i).apply(two), "run " + i + " on 1 vs 2 threads");
            }
        }
    }

    @Test
    void maskedConjugateGradientAgreesWithReferenceIterationByIteration() {
        Tensor h = rnd.spd(DType.F32, 33, 0.3);
        Tensor b = rnd.f32(33, 7);
        Tensor mask = rnd.mask(33, 7, 0.7);
        for (int iterations : new int[] {1, 3}) {
            Tensor x = rnd.zeros(DType.F32, 33, 7);
            Tensor expected = rnd.zeros(DType.F32, 33, 7);
            assertEquals(iterations, ops.maskedConjugateGradient(h, b, mask, x, iterations, 0));
            reference.maskedConjugateGradient(h, b, mask, expected, iterations, 0);
            assertNormClose(expected, x, 1e-4, "masked CG after " + iterations + " iterations");
        }
    }
}
