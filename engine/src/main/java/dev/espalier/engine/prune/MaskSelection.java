package dev.espalier.engine.prune;

import java.util.Arrays;

/**
 * Chooses which weights to drop from a score matrix (out, in), higher score = more important. Ties are broken by
 * position (the earlier index is dropped first), so the choice is deterministic. N:M groups are consecutive inputs
 * of a row; see {@link SparsityPattern#keptInGroup} for a trailing group narrower than M.
 */
public final class MaskSelection {
    private MaskSelection() {}

    /** keep[r][c] flattened (out · in): true where the weight stays. */
    public static boolean[] select(
            float[] scores, int rows, int cols, SparsityPattern pattern, double sparsity, Scope scope) {
        boolean[] keep = new boolean[scores.length];
        Arrays.fill(keep, true);
        if (pattern.isNm()) {
            for (int r = 0; r < rows; r++) {
                for (int g = 0; g < cols; g += pattern.group()) {
                    int width = Math.min(pattern.group(), cols - g);
                    dropLowest(scores, keep, r * cols + g, width, width - pattern.keptInGroup(width));
                }
            }
        } else if (scope == Scope.ROW) {
            int drop = (int) (cols * sparsity);
            for (int r = 0; r < rows; r++) {
                dropLowest(scores, keep, r * cols, cols, drop);
            }
        } else {
            int drop = (int) Math.min((long) scores.length, (long) (scores.length * sparsity));
            dropLowest(scores, keep, 0, scores.length, drop);
        }
        return keep;
    }

    /** Where an unstructured sparsity level is enforced: in every output row (Wanda), or over the whole matrix (magnitude, ALPS). */
    public enum Scope {
        ROW,
        MATRIX
    }

    /** Marks the {@code drop} lowest scores in [from, from + length) as dropped (ties: lower index first). */
    private static void dropLowest(float[] scores, boolean[] keep, int from, int length, int drop) {
        if (drop <= 0) {
            return;
        }
        float[] sorted = Arrays.copyOfRange(scores, from, from + length);
        Arrays.sort(sorted);
        float threshold = sorted[drop - 1];
        int below = 0;
        while (below < drop && sorted[below] < threshold) {
            below++;
        }
        int tiesToDrop = drop - below;
        for (int i = from; i < from + length; i++) {
            float s = scores[i];
            if (s < threshold) {
                keep[i] = false;
            } else if (tiesToDrop > 0 && Float.compare(s, threshold) == 0) {
                keep[i] = false;
                tiesToDrop--;
            }
        }
    }
}
