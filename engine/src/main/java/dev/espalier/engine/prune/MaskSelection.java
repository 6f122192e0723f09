package dev.espalier.engine.prune;

import dev.espalier.kernels.TensorOps;
import java.util.Arrays;

/**
 * Chooses which weights to drop from a score matrix (out, in), higher score = more important. Ties are broken by
 * position (the earlier index is dropped first), so the choice is deterministic. N:M groups are consecutive inputs
 * of a row; see {@link SparsityPattern#keptInGroup} for a trailing group narrower than M.
 *
 * <p>Scores are ordered as {@link Arrays#sort(float[])} orders them (−0.0 before 0.0, NaN last). The drop threshold
 * of a row or matrix is its k-th smallest score, found by selection in linear expected time (not by sorting); rows
 * (and N:M rows of groups) are independent tasks on the backend's threads, each choosing exactly as the others would,
 * so the mask does not depend on the thread count.
 */
public final class MaskSelection {
    /** Rows per task of {@link TensorOps#forEachTask}: enough work per task to hide its scheduling. */
    private static final int ROWS_PER_TASK = 16;
    /** Segments up to this length are sorted by insertion instead of selected. */
    private static final int INSERTION_MAX = 16;

    private MaskSelection() {}

    /** keep[r][c] flattened (out · in): true where the weight stays; rows chosen on {@code ops}'s threads. */
    public static boolean[] select(
            float[] scores, int rows, int cols, SparsityPattern pattern, double sparsity, Scope scope, TensorOps ops) {
        boolean[] keep = new boolean[scores.length];
        Arrays.fill(keep, true);
        if (pattern.isNm() || scope == Scope.ROW) {
            int drop = (int) (cols * sparsity);
            ops.forEachTask((rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK, t -> {
                int[] scratch = new int[pattern.isNm() ? pattern.group() : cols];
                for (int r = t * ROWS_PER_TASK; r < Math.min(rows, (t + 1) * ROWS_PER_TASK); r++) {
                    if (pattern.isNm()) {
                        for (int g = 0; g < cols; g += pattern.group()) {
                            int width = Math.min(pattern.group(), cols - g);
                            dropLowest(scores, keep, r * cols + g, width, width - pattern.keptInGroup(width), scratch);
                        }
                    } else {
                        dropLowest(scores, keep, r * cols, cols, drop, scratch);
                    }
                }
            });
        } else {
            int drop = (int) Math.min((long) scores.length, (long) (scores.length * sparsity));
            dropLowest(scores, keep, 0, scores.length, drop, new int[scores.length]);
        }
        return keep;
    }

    /** Where an unstructured sparsity level is enforced: in every output row (Wanda), or over the whole matrix (magnitude, ALPS). */
    public enum Scope {
        ROW,
        MATRIX
    }

    /**
     * Marks the {@code drop} lowest scores in [from, from + length) as dropped (ties: lower index first), with
     * {@code scratch} (at least {@code length} long) for the scores' order keys.
     */
    private static void dropLowest(float[] scores, boolean[] keep, int from, int length, int drop, int[] scratch) {
        if (drop <= 0) {
            return;
        }
        for (int i = 0; i < length; i++) {
            scratch[i] = orderKey(scores[from + i]);
        }
        int threshold = kthSmallest(scratch, length, Math.min(drop, length) - 1);
        int below = 0;
        for (int i = from; i < from + length; i++) {
            if (orderKey(scores[i]) < threshold) {
                below++;
            }
        }
        int tiesToDrop = drop - below;
        for (int i = from; i < from + length; i++) {
            int key = orderKey(scores[i]);
            if (key < threshold) {
                keep[i] = false;
            } else if (tiesToDrop > 0 && key == threshold) {
                keep[i] = false;
                tiesToDrop--;
            }
        }
    }

    /** An int whose signed order is {@link Float#compare}'s order of {@code f} (the order of {@link Arrays#sort}). */
    static int orderKey(float f) {
        int bits = Float.floatToIntBits(f);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }

    /**
     * The k-th smallest (0-based) of keys[0, n), reordering them: quickselect with a median-of-three pivot, finished
     * by a sort when the ranges shrink too slowly (adversarial orders) or are small.
     */
    static int kthSmallest(int[] keys, int n, int k) {
        int lo = 0;
        int hi = n - 1;
        int budget = 2 * (32 - Integer.numberOfLeadingZeros(Math.max(1, n)));
        while (hi - lo + 1 > INSERTION_MAX && budget-- > 0) {
            int mid = lo + (hi - lo) / 2;
            int pivot = median(keys[lo], keys[mid], keys[hi]);
            int i = lo;
            int j = hi;
            while (i <= j) { // Hoare partition: [lo, j] <= pivot <= [i, hi]
                while (keys[i] < pivot) {
                    i++;
                }
                while (keys[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    int tmp = keys[i];
                    keys[i++] = keys[j];
                    keys[j--] = tmp;
                }
            }
            if (k <= j) {
                hi = j;
            } else if (k >= i) {
                lo = i;
            } else {
                return keys[k]; // between the two parts: equal to the pivot
            }
        }
        Arrays.sort(keys, lo, hi + 1);
        return keys[k];
    }

    private static int median(int a, int b, int c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }
}
