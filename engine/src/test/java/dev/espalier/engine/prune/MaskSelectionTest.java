package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class MaskSelectionTest {

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
        boolean[] keep =
                MaskSelection.select(scores, rows, cols, SparsityPattern.UNSTRUCTURED, 0.3, MaskSelection.Scope.ROW);
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
                scores, rows, cols, new SparsityPattern(2, 4), Double.NaN, MaskSelection.Scope.ROW);
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
                scores, rows, cols, new SparsityPattern(4, 8), Double.NaN, MaskSelection.Scope.ROW);
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
        boolean[] keep =
                MaskSelection.select(scores, 2, 3, SparsityPattern.UNSTRUCTURED, 0.5, MaskSelection.Scope.MATRIX);
        assertArrayEquals(new boolean[] {true, false, false, false, true, true}, keep);
        boolean[] two =
                MaskSelection.select(scores, 2, 3, SparsityPattern.UNSTRUCTURED, 2.0 / 6, MaskSelection.Scope.MATRIX);
        assertArrayEquals(new boolean[] {true, false, false, true, true, true}, two);
    }
}
