package dev.espalier.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What lets {@link BlasBlocks#sgemm} size its row blocks by the thread count without results depending on it: on the
 * cores {@link OpenBlas#sgemmRowBlocksExact} names, an element of a row-major sgemm comes out the same whatever the
 * height of the row blocks, as long as every call stays on the packed kernels ({@link BlasBlocks#PACKED_MIN_WORK}).
 * CI loads the Haswell core, where the first test is skipped; run it with {@code OPENBLAS_CORETYPE} unset (or
 * {@code SkylakeX}) on an AVX-512 CPU.
 */
class BlasRowBlocksTest {
    /** transA, transB, m, n, k, alpha, beta; the last three only for the thread-count test (small products). */
    private static final String SHAPES = """
            false, false, 1024, 1024, 1024, -1, 1
            false, false, 4096, 4096, 4096, -1, 1
            false, false, 4096, 4096, 4096, 1, 0
            false, false, 700, 900, 3000, 1, 0
            false, false, 512, 4096, 128, -1, 1
            false, true, 1000, 777, 1500, 0.5, 0
            true, false, 1000, 777, 600, -1, 1
            false, false, 200, 350, 350, 1, 0
            true, true, 333, 250, 190, 1, 0
            false, false, 200, 300, 300, 1, 0
            false, false, 168, 16, 8, 1, 1
            """;

    @ParameterizedTest
    @CsvSource(textBlock = SHAPES)
    void onExactCoresEveryPackedRowBlockHeightGivesTheSameBytes(
            boolean transA, boolean transB, int m, int n, int k, float alpha, float beta) {
        assumeTrue(OpenBlas.available() && OpenBlas.get().sgemmRowBlocksExact(), "needs a core of sgemmRowBlocksExact");
        OpenBlas blas = OpenBlas.get();
        try (Arena arena = Arena.ofConfined()) {
            Operands ops = new Operands(arena, transA, transB, m, n, k);
            MemorySegment whole = ops.freshC(arena);
            blas.sgemm(transA, transB, m, n, k, alpha, ops.a, ops.lda, ops.b, ops.ldb, beta, whole, n);
            int heights = 0;
            for (int rows : new int[] {8, 16, 32, 48, 64, 96, 128, 192, 320, 512, 1024, 2048}) {
                if (2 * rows > m || (long) rows * n * k < BlasBlocks.PACKED_MIN_WORK) {
                    continue;
                }
                heights++;
                MemorySegment blocked = ops.freshC(arena);
                int blocks = m / rows; // the last block takes the rows left over, as BlasBlocks does
                for (int t = 0; t < blocks; t++) {
                    int r0 = t * rows;
                    int h = t == blocks - 1 ? m - r0 : rows;
                    long aOff = transA ? r0 : r0 * ops.lda;
                    blas.sgemm(
                            transA,
                            transB,
                            h,
                            n,
                            k,
                            alpha,
                            ops.a.asSlice(aOff * 4),
                            ops.lda,
                            ops.b,
                            ops.ldb,
                            beta,
                            blocked.asSlice((long) r0 * n * 4),
                            n);
                }
                assertEquals(-1L, whole.mismatch(blocked), "row blocks of " + rows + " on " + blas.config());
            }
            assumeTrue(heights > 0, "no row block of this product stays on the packed kernels");
        }
    }

    @ParameterizedTest
    @CsvSource(textBlock = SHAPES)
    void blockedSgemmGivesTheSameBytesOnOneTwoAndThreeThreads(
            boolean transA, boolean transB, int m, int n, int k, float alpha, float beta) {
        assumeTrue(OpenBlas.available());
        OpenBlas blas = OpenBlas.get();
        try (Arena arena = Arena.ofShared()) {
            Operands ops = new Operands(arena, transA, transB, m, n, k);
            MemorySegment first = null;
            for (int threads = 1; threads <= 3; threads++) {
                MemorySegment c = ops.freshC(arena);
                try (Parallel par = new Parallel(threads)) {
                    BlasBlocks.sgemm(
                            par, blas, transA, transB, m, n, k, alpha, ops.a, ops.lda, ops.b, ops.ldb, beta, c, n);
                }
                if (first == null) {
                    first = c;
                } else {
                    assertEquals(-1L, first.mismatch(c), threads + " threads against 1 on " + blas.config());
                }
            }
        }
    }

    /** Gaussian a (op(a) m × k), b (op(b) k × n) and a starting c (m × n), row-major and contiguous. */
    private static final class Operands {
        final MemorySegment a;
        final MemorySegment b;
        final long lda;
        final long ldb;
        private final MemorySegment c0;

        Operands(Arena arena, boolean transA, boolean transB, int m, int n, int k) {
            SplittableRandom r = new SplittableRandom(m * 31L + n * 7L + k);
            a = random(arena, (long) m * k, r);
            b = random(arena, (long) k * n, r);
            c0 = random(arena, (long) m * n, r);
            lda = transA ? m : k;
            ldb = transB ? k : n;
        }

        MemorySegment freshC(Arena arena) {
            MemorySegment c = arena.allocate(c0.byteSize(), 64);
            c.copyFrom(c0);
            return c;
        }

        private static MemorySegment random(Arena arena, long n, SplittableRandom r) {
            MemorySegment s = arena.allocate(n * 4, 64);
            for (long i = 0; i < n; i++) {
                s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextGaussian());
            }
            return s;
        }
    }
}
