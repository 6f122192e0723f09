package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The projection Π of ALPS onto its feasible set, for contiguous (out, in) F32 matrices: unstructured keeps the k
 * largest magnitudes of the whole matrix, k = round((1 − sparsity) · out · in) as in the official code; N:M keeps the
 * N largest magnitudes of every group of M consecutive inputs of a row. Ties drop the earlier index first (as
 * {@link MaskSelection}), so the result is deterministic and keeps exactly k positions. The unstructured selection
 * is a two-pass radix select on the magnitude bits (O(out · in), no sort). Along with the projected matrix it writes
 * the zero pattern, one bit per entry, set where the projected entry is 0 (the official {@code D == 0}).
 */
final class AlpsProjection {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int HIGH_BINS = 1 << 15; // magnitude bits >>> 16 (sign cleared)
    private static final int LOW_BINS = 1 << 16; // the low 16 magnitude bits

    private final SparsityPattern pattern;
    private final int cols; // in
    private final long total; // out · in
    private final long keep; // positions kept: k
    private final int[] high = new int[HIGH_BINS]; // histogram of the high magnitude bits
    private final int[] low = new int[LOW_BINS]; // histogram of the low bits inside the threshold's high bin

    AlpsProjection(SparsityPattern pattern, double sparsity, int rows, int cols) {
        this.pattern = pattern;
        this.cols = cols;
        this.total = (long) rows * cols;
        this.keep = pattern.isNm()
                ? (long) rows * keptPerRow(pattern, cols)
                : Math.max(0, Math.min(total, Math.round((1 - sparsity) * total)));
    }

    /** Weights an N:M pattern keeps in one row of {@code cols} inputs (a trailing narrower group keeps its share). */
    private static long keptPerRow(SparsityPattern pattern, int cols) {
        long kept = 0;
        for (int g = 0; g < cols; g += pattern.group()) {
            kept += pattern.keptInGroup(Math.min(pattern.group(), cols - g));
        }
        return kept;
    }

    /** k, the number of positions a projection keeps. */
    long supportSize() {
        return keep;
    }

    /** Words of a zero-pattern bit set for these matrices. */
    int patternWords() {
        return (int) ((total + 63) >>> 6);
    }

    /** Entries whose zero-pattern bit differs between {@code a} and {@code b}. */
    static long differences(long[] a, long[] b) {
        long n = 0;
        for (int w = 0; w < a.length; w++) {
            n += Long.bitCount(a[w] ^ b[w]);
        }
        return n;
    }

    /** {@code dst = Π(src)} for contiguous (rows, cols) F32 matrices (dst may be src); writes the zero pattern. */
    void project(Tensor src, Tensor dst, long[] zeros) {
        MemorySegment s = src.data();
        MemorySegment d = dst.data();
        if (pattern.isNm()) {
            projectNm(s, d, zeros);
        } else {
            projectTopK(s, d, zeros);
        }
    }

    private static int magnitude(float v) {
        return Float.floatToRawIntBits(v) & 0x7fffffff;
    }

    private void projectTopK(MemorySegment s, MemorySegment d, long[] zeros) {
        int threshold; // magnitude bits of the k-th largest entry
        long tiesToDrop; // entries equal to the threshold dropped first, in index order
        if (keep == 0) {
            threshold = Integer.MAX_VALUE; // nothing is above it, and whatever equals it is dropped
            tiesToDrop = Long.MAX_VALUE;
        } else if (keep == total) {
            threshold = -1; // every magnitude is above it
            tiesToDrop = 0;
        } else {
            Arrays.fill(high, 0);
            for (long i = 0; i < total; i++) {
                high[magnitude(s.getAtIndex(F32, i)) >>> 16]++;
            }
            long above = 0;
            int hb = HIGH_BINS - 1;
            while (above + high[hb] < keep) {
                above += high[hb];
                hb--;
            }
            Arrays.fill(low, 0);
            for (long i = 0; i < total; i++) {
                int m = magnitude(s.getAtIndex(F32, i));
                if (m >>> 16 == hb) {
                    low[m & 0xffff]++;
                }
            }
            int lb = LOW_BINS - 1;
            while (above + low[lb] < keep) {
                above += low[lb];
                lb--;
            }
            threshold = (hb << 16) | lb;
            tiesToDrop = low[lb] - (keep - above);
        }
        long word = 0;
        for (long i = 0; i < total; i++) {
            float v = s.getAtIndex(F32, i);
            int m = magnitude(v);
            boolean kept = m > threshold;
            if (m == threshold) {
                if (tiesToDrop > 0) {
                    tiesToDrop--;
                } else {
                    kept = true;
                }
            }
            float out = kept ? v : 0f;
            d.setAtIndex(F32, i, out);
            if (out == 0f) {
                word |= 1L << (i & 63);
            }
            if ((i & 63) == 63) {
                zeros[(int) (i >>> 6)] = word;
                word = 0;
            }
        }
        if ((total & 63) != 0) {
            zeros[(int) (total >>> 6)] = word;
        }
    }

    private void projectNm(MemorySegment s, MemorySegment d, long[] zeros) {
        int[] keys = new int[pattern.group()];
        float[] values = new float[pattern.group()];
        Arrays.fill(zeros, 0L);
        for (long base = 0; base < total; ) {
            int m = (int) Math.min(pattern.group(), cols - base % cols); // a row's trailing group may be narrower
            int n = pattern.keptInGroup(m);
            for (int j = 0; j < m; j++) {
                values[j] = s.getAtIndex(F32, base + j);
                keys[j] = magnitude(values[j]);
            }
            for (int j = 0; j < m; j++) {
                int beaten = 0; // entries of the group ranked above j: larger, or equal and later
                for (int other = 0; other < m; other++) {
                    if (keys[other] > keys[j] || (keys[other] == keys[j] && other > j)) {
                        beaten++;
                    }
                }
                float out = beaten < n ? values[j] : 0f;
                long i = base + j;
                d.setAtIndex(F32, i, out);
                if (out == 0f) {
                    zeros[(int) (i >>> 6)] |= 1L << (i & 63);
                }
            }
            base += m;
        }
    }
}
