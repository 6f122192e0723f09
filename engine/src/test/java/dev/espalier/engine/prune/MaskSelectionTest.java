package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MaskSelectionTest {
    private static final TensorOps SERIAL = new ReferenceOps();

    private static float[] randomScores(int n, long seed) {
        Random random = new Random(seed);
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = random.nextFloat();
        }
        return s;
    }

    @Test
    void rowScopeDropsTheSameCountInEveryRowAndOnlyTheLowest() {
        int rows = 7;
        int cols = 20;
        float[] scores = randomScores(rows * cols, 1);
        boolean[] keep = MaskSelection.select(
                scores, rows, cols, SparsityPattern.UNSTRUCTURED, 0.3, MaskSelection.Scope.ROW, SERIAL);
        for (int r = 0; r < rows; r++) {
            int dropped = 0;
            float maxDropped = Float.NEGATIVE_INFINITY;
            float minKept = Float.POSITIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                float s = scores[r * cols + c];
                if (keep[r * cols + c]) {
                    minKept = Math.min(minKept, s);
                } else {
                    dropped++;
                    maxDropped = Math.max(maxDropped, s);
                }
            }
            assertEquals(6, dropped);
            assertEquals(true, maxDropped <= minKept);
        }
    }

    @Test
    void nmKeepsExactlyNPerGroup() {
        int rows = 5;
        int cols = 16;
        float[] scores = randomScores(rows * cols, 2);
        boolean[] keep = MaskSelection.select(
                scores, rows, cols, new SparsityPattern(2, 4), Double.NaN, MaskSelection.Scope.ROW, SERIAL);
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < cols; g += 4) {
                int kept = 0;
                for (int i = 0; i < 4; i++) {
                    kept += keep[r * cols + g + i] ? 1 : 0;
                }
                assertEquals(2, kept);
            }
        }
    }

    @Test
    void trailingPartialGroupKeepsItsShareOfN() {
        int rows = 3;
        int cols = 172; // stories260K's FFN width: 21 groups of 8 and one of 4 under 4:8
        float[] scores = randomScores(rows * cols, 3);
        boolean[] keep = MaskSelection.select(
                scores, rows, cols, new SparsityPattern(4, 8), Double.NaN, MaskSelection.Scope.ROW, SERIAL);
        for (int r = 0; r < rows; r++) {
            int keptInTail = 0;
            for (int c = 168; c < 172; c++) {
                keptInTail += keep[r * cols + c] ? 1 : 0;
            }
            assertEquals(2, keptInTail);
        }
        assertEquals(2, new SparsityPattern(2, 4).keptInGroup(3));
        assertEquals(1, new SparsityPattern(2, 4).keptInGroup(1));
    }

    @Test
    void matrixScopeUsesOneThresholdAndBreaksTiesByPosition() {
        float[] scores = {3, 1, 1, 1, 2, 5};
        boolean[] keep = MaskSelection.select(
                scores, 2, 3, SparsityPattern.UNSTRUCTURED, 0.5, MaskSelection.Scope.MATRIX, SERIAL);
        assertArrayEquals(new boolean[] {true, false, false, false, true, true}, keep);
        boolean[] two = MaskSelection.select(
                scores, 2, 3, SparsityPattern.UNSTRUCTURED, 2.0 / 6, MaskSelection.Scope.MATRIX, SERIAL);
        assertArrayEquals(new boolean[] {true, false, false, true, true, true}, two);
    }

    /** The drop rule by brute force: sort a copy, the drop-th smallest is the threshold, ties dropped by position. */
    private static boolean[] bySorting(float[] scores, int from, int length, int drop, boolean[] keep) {
        float[] sorted = Arrays.copyOfRange(scores, from, from + length);
        Arrays.sort(sorted);
        float threshold = sorted[drop - 1];
        int ties = drop;
        for (int i = 0; i < length; i++) {
            ties -= Float.compare(sorted[i], threshold) < 0 ? 1 : 0;
        }
        for (int i = from; i < from + length; i++) {
            int order = Float.compare(scores[i], threshold);
            if (order < 0 || (order == 0 && ties-- > 0)) {
                keep[i] = false;
            }
        }
        return keep;
    }

    /** Scores with many ties, negative values and both zeros: the selection's hardest inputs. */
    private static float[] tiedScores(int n, long seed) {
        Random random = new Random(seed);
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = switch (random.nextInt(5)) {
                case 0 -> random.nextInt(4);
                case 1 -> -random.nextInt(3);
                case 2 -> random.nextBoolean() ? 0f : -0f;
                default -> random.nextFloat() * 10 - 5;
            };
        }
        return s;
    }

    @Test
    void selectionEqualsSortingForEveryScopeAndAnyThreadCount() {
        try (CpuOps twoThreads = new CpuOps(2)) {
            for (long seed = 0; seed < 20; seed++) {
                int rows = 1 + (int) (seed % 7) * 9;
                int cols = 3 + (int) (seed * 37 % 300);
                float[] scores = seed % 2 == 0 ? tiedScores(rows * cols, seed) : randomScores(rows * cols, seed);
                double sparsity = 0.05 + 0.9 * ((seed * 13) % 20) / 20.0;
                String what = "seed " + seed + ", " + rows + "x" + cols + " at " + sparsity;
                boolean[] rowExpected = new boolean[scores.length];
                Arrays.fill(rowExpected, true);
                int drop = (int) (cols * sparsity);
                for (int r = 0; r < rows && drop > 0; r++) {
                    bySorting(scores, r * cols, cols, drop, rowExpected);
                }
                for (TensorOps ops : new TensorOps[] {SERIAL, twoThreads}) {
                    assertArrayEquals(
                            rowExpected,
                            MaskSelection.select(
                                    scores,
                                    rows,
                                    cols,
                                    SparsityPattern.UNSTRUCTURED,
                                    sparsity,
                                    MaskSelection.Scope.ROW,
                                    ops),
                            what + ", rows, " + ops.name());
                }
                boolean[] matrixExpected = new boolean[scores.length];
                Arrays.fill(matrixExpected, true);
                int matrixDrop = (int) (scores.length * sparsity);
                if (matrixDrop > 0) {
                    bySorting(scores, 0, scores.length, matrixDrop, matrixExpected);
                }
                assertArrayEquals(
                        matrixExpected,
                        MaskSelection.select(
                                scores,
                                rows,
                                cols,
                                SparsityPattern.UNSTRUCTURED,
                                sparsity,
                                MaskSelection.Scope.MATRIX,
                                twoThreads),
                        what + ", matrix");
                boolean[] nmExpected = new boolean[scores.length];
                Arrays.fill(nmExpected, true);
                SparsityPattern twoFour = new SparsityPattern(2, 4);
                for (int r = 0; r < rows; r++) {
                    for (int g = 0; g < cols; g += 4) {
                        int width = Math.min(4, cols - g);
                        int nmDrop = width - twoFour.keptInGroup(width);
                        if (nmDrop > 0) {
                            bySorting(scores, r * cols + g, width, nmDrop, nmExpected);
                        }
                    }
                }
                assertArrayEquals(
                        nmExpected,
                        MaskSelection.select(
                                scores, rows, cols, twoFour, Double.NaN, MaskSelection.Scope.ROW, twoThreads),
                        what + ", 2:4");
            }
        }
    }

    @Test
    void selectionOfAnAdversarialOrderStillFindsTheKthSmallest() {
        int n = 100_000;
        int[] keys = new int[n];
        for (int i = 0; i < n; i++) {
            keys[i] = (i % 2 == 0) ? i : n - i; // organ-pipe-like: bad for naive pivots
        }
        int[] sorted = keys.clone();
        Arrays.sort(sorted);
        for (int k : new int[] {0, 1, n / 3, n / 2, n - 1}) {
            assertEquals(sorted[k], MaskSelection.kthSmallest(keys.clone(), n, k), "k = " + k);
        }
        assertTrue(MaskSelection.orderKey(-0f) < MaskSelection.orderKey(0f), "-0.0 orders before 0.0, as Arrays.sort");
        assertTrue(MaskSelection.orderKey(Float.POSITIVE_INFINITY) < MaskSelection.orderKey(Float.NaN), "NaN last");
    }
}
