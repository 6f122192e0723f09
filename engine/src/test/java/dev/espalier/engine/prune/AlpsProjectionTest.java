package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The projection in pieces on the backend's threads against a sort of the whole matrix: the k largest magnitudes
 * (ties: the earlier index dropped first), or the N largest of each group, on 1 and 3 threads. Matrices of 2²⁰
 * entries and more are cut into several pieces; values rounded to a few levels put ties of the threshold in every
 * piece, so the pieces must hand the dropped ties over in index order.
 */
class AlpsProjectionTest {

    @ParameterizedTest(name = "{0}x{1} {2} {3}, levels {4}")
    @CsvSource({
        "1024, 1024, unstructured, 0.7, 0",
        "1024, 1024, unstructured, 0.7, 16",
        "1500, 1100, unstructured, 0.5, 5",
        "1031, 1027, unstructured, 0.9, 0",
        "700, 64, unstructured, 0.3, 3",
        "1024, 1024, unstructured, 0.0, 4",
        "1030, 1022, 2:4, NaN, 0",
        "1030, 1022, 2:4, NaN, 3",
        "600, 66, 1:3, NaN, 2",
    })
    void piecesGiveTheWholeMatrixSelection(int rows, int cols, String pattern, double sparsity, int levels) {
        SparsityPattern p = SparsityPattern.parse(pattern);
        float[] values = matrix(rows, cols, levels, new SplittableRandom(rows * 31L + cols));
        float[] expected = p.isNm() ? nmReference(values, cols, p) : topKReference(values, p, sparsity);
        for (int threads : new int[] {1, 3}) {
            try (CpuOps ops = new CpuOps(threads);
                    Arena arena = Arena.ofConfined()) {
                float[] got = project(values, rows, cols, p, sparsity, ops, arena);
                assertArrayEquals(expected, got, threads + " thread(s)");
            }
        }
    }

    private static float[] project(
            float[] values, int rows, int cols, SparsityPattern p, double sparsity, TensorOps ops, Arena arena) {
        AlpsProjection projection = new AlpsProjection(p, sparsity, rows, cols, ops);
        Tensor src = Tensor.ofFloats(arena, values, rows, cols);
        Tensor dst = Tensor.allocate(arena, DType.F32, rows, cols);
        long[] zeros = new long[projection.patternWords()];
        Arrays.fill(zeros, -1L); // every word must be written
        projection.project(src, dst, zeros);
        float[] got = dst.toFloatArray();
        for (int i = 0; i < got.length; i++) {
            boolean bit = (zeros[i >>> 6] >>> (i & 63) & 1) != 0;
            assertEquals(got[i] == 0f, bit, "zero-pattern bit " + i);
        }
        for (int i = got.length; i < zeros.length * 64; i++) {
            assertEquals(0, zeros[i >>> 6] >>> (i & 63) & 1, "bit past the end " + i);
        }
        return got;
    }

    /** Gaussian entries, or with {@code levels} > 0 rounded to multiples of 1/levels (many equal magnitudes). */
    private static float[] matrix(int rows, int cols, int levels, SplittableRandom random) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            double g = random.nextGaussian();
            v[i] = (float) (levels > 0 ? Math.rint(g * levels) / levels : g);
        }
        return v;
    }

    private static float[] topKReference(float[] values, SparsityPattern p, double sparsity) {
        int keep = (int) Math.round((1 - sparsity) * values.length);
        Integer[] order = IntStream.range(0, values.length).boxed().toArray(Integer[]::new);
        // Kept first: larger magnitude, then (ties) the later index.
        Arrays.sort(
                order,
                Comparator.comparingInt((Integer i) -> -magnitude(values[i])).thenComparing(i -> -i));
        float[] out = new float[values.length];
        for (int r = 0; r < keep; r++) {
            out[order[r]] = values[order[r]];
        }
        return out;
    }

    private static float[] nmReference(float[] values, int cols, SparsityPattern p) {
        float[] out = new float[values.length];
        for (int row = 0; row < values.length / cols; row++) {
            for (int g = 0; g < cols; g += p.group()) {
                int width = Math.min(p.group(), cols - g);
                int base = row * cols + g;
                Integer[] order = IntStream.range(0, width).boxed().toArray(Integer[]::new);
                Arrays.sort(
                        order,
                        Comparator.comparingInt((Integer j) -> -magnitude(values[base + j]))
                                .thenComparing(j -> -j));
                for (int r = 0; r < p.keptInGroup(width); r++) {
                    out[base + order[r]] = values[base + order[r]];
                }
            }
        }
        return out;
    }

    private static int magnitude(float v) {
        return Float.floatToRawIntBits(v) & 0x7fffffff;
    }
}
