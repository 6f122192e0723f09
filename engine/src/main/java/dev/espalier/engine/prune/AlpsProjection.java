package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
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
 *
 * <p>Every pass runs on the backend's threads in pieces fixed by the matrix's size: the histograms are integer counts
 * per piece, summed (any split gives the same totals); the write pass gives each piece the ties it drops, from the
 * ties the earlier pieces hold; N:M goes by tiles of {@link RowTiles#ROWS} rows. Pieces start at multiples of 64
 * entries, so each writes its own words of the zero pattern, and the result is the serial pass's on any thread count.
 */
final class AlpsProjection {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int HIGH_BINS = 1 << 15; // magnitude bits >>> 16 (sign cleared)
    private static final int LOW_BINS = 1 << 16; // the low 16 magnitude bits
    /** Entries per piece of the unstructured passes at least (a multiple of 64). */
    private static final long PIECE_MIN = 1 << 18;
    /** Pieces of the unstructured passes at most (each holds its own histograms). */
    private static final int PIECES_MAX = 16;
    /** Entries a pass reads into an array at a time (a multiple of 64). */
    private static final int CHUNK = 4096;

    private final SparsityPattern pattern;
    private final int cols; // in
    private final long total; // out · in
    private final long keep; // positions kept: k
    private final int rows; // out
    private final TensorOps ops;
    private final int pieces; // pieces of the unstructured passes
    private final long pieceSize; // entries per piece (a multiple of 64), the last piece takes the rest
    private final int[][] high; // (pieces, HIGH_BINS) histograms of the high magnitude bits
    private final int[][] low; // (pieces, LOW_BINS) histograms of the low bits inside the threshold's high bin

    AlpsProjection(SparsityPattern pattern, double sparsity, int rows, int cols, TensorOps ops) {
        this.pattern = pattern;
        this.rows = rows;
        this.cols = cols;
        this.ops = ops;
        this.total = (long) rows * cols;
        this.pieces = (int) Math.max(1, Math.min(PIECES_MAX, total / PIECE_MIN));
        this.pieceSize = (total / pieces + 63) & ~63L;
        boolean nm = pattern.isNm();
        this.high = nm ? null : new int[pieces][HIGH_BINS];
        this.low = nm ? null : new int[pieces][LOW_BINS];
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
        MemorySegment s = ops.shareable(src.data());
        MemorySegment d = ops.shareable(dst.data());
        if (pattern.isNm()) {
            projectNm(s, d, zeros);
        } else {
            projectTopK(s, d, zeros);
        }
    }

    private static int magnitude(float v) {
        return Float.floatToRawIntBits(v) & 0x7fffffff;
    }

    private long pieceStart(int piece) {
        return Math.min(total, piece * pieceSize);
    }

    private long pieceEnd(int piece) {
        return piece == pieces - 1 ? total : Math.min(total, (piece + 1) * pieceSize);
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
            histograms(s, -1);
            long above = 0;
            int hb = HIGH_BINS - 1;
            long count = binTotal(high, hb);
            while (above + count < keep) {
                above += count;
                hb--;
                count = binTotal(high, hb);
            }
            histograms(s, hb);
            int lb = LOW_BINS - 1;
            count = binTotal(low, lb);
            while (above + count < keep) {
                above += count;
                lb--;
                count = binTotal(low, lb);
            }
            threshold = (hb << 16) | lb;
            tiesToDrop = count - (keep - above);
        }
        long[] drops = new long[pieces]; // ties each piece drops, the earliest first
        if (tiesToDrop == Long.MAX_VALUE) {
            Arrays.fill(drops, Long.MAX_VALUE);
        } else if (tiesToDrop > 0) {
            int lb = threshold & 0xffff;
            long before = 0;
            for (int p = 0; p < pieces; p++) {
                long held = low[p][lb]; // the piece's entries equal to the threshold
                drops[p] = Math.max(0, Math.min(held, tiesToDrop - before));
                before += held;
            }
        }
        int limit = threshold;
        ops.forEachTask(pieces, p -> writePiece(s, d, zeros, pieceStart(p), pieceEnd(p), limit, drops[p]));
    }

    /**
     * Per piece, on the backend's threads: {@code high[p]} ← the counts of the magnitudes' high bits
     * ({@code highBin} &lt; 0), or {@code low[p]} ← the counts of the low bits of the magnitudes whose high bits equal
     * {@code highBin}.
     */
    private void histograms(MemorySegment s, int highBin) {
        ops.forEachTask(pieces, p -> {
            int[] h = highBin < 0 ? high[p] : low[p];
            Arrays.fill(h, 0);
            float[] chunk = new float[CHUNK];
            for (long c = pieceStart(p); c < pieceEnd(p); c += CHUNK) {
                int n = (int) Math.min(CHUNK, pieceEnd(p) - c);
                MemorySegment.copy(s, F32, c * 4, chunk, 0, n);
                for (int j = 0; j < n; j++) {
                    int m = magnitude(chunk[j]);
                    if (highBin < 0) {
                        h[m >>> 16]++;
                    } else if (m >>> 16 == highBin) {
                        h[m & 0xffff]++;
                    }
                }
            }
        });
    }

    private static long binTotal(int[][] histograms, int bin) {
        long n = 0;
        for (int[] h : histograms) {
            n += h[bin];
        }
        return n;
    }

    /** Keeps the entries of [from, to) above the threshold and those equal to it after the first {@code drop}. */
    private static void writePiece(
            MemorySegment s, MemorySegment d, long[] zeros, long from, long to, int threshold, long drop) {
        long tiesToDrop = drop;
        float[] chunk = new float[CHUNK];
        for (long c = from; c < to; c += CHUNK) { // chunks start at multiples of 64, as the piece does
            int n = (int) Math.min(CHUNK, to - c);
            MemorySegment.copy(s, F32, c * 4, chunk, 0, n);
            long word = 0;
            for (int j = 0; j < n; j++) {
                float v = chunk[j];
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
                chunk[j] = out;
                if (out == 0f) {
                    word |= 1L << (j & 63);
                }
                if ((j & 63) == 63) {
                    zeros[(int) ((c + j) >>> 6)] = word;
                    word = 0;
                }
            }
            if ((n & 63) != 0) {
                zeros[(int) ((c + n) >>> 6)] = word;
            }
            MemorySegment.copy(chunk, 0, d, F32, c * 4, n);
        }
    }

    private void projectNm(MemorySegment s, MemorySegment d, long[] zeros) {
        RowTiles.run(ops, rows, RowTiles.ROWS, (r0, r1) -> projectNmRows(s, d, zeros, r0, r1));
    }

    /** N:M on the rows [r0, r1): a tile of 64 rows starts a word of the zero pattern. */
    private void projectNmRows(MemorySegment s, MemorySegment d, long[] zeros, int r0, int r1) {
        int[] keys = new int[pattern.group()];
        float[] row = new float[cols];
        Arrays.fill(zeros, (int) (((long) r0 * cols) >>> 6), (int) (((long) r1 * cols + 63) >>> 6), 0L);
        for (int r = r0; r < r1; r++) {
            long start = (long) r * cols;
            MemorySegment.copy(s, F32, start * 4, row, 0, cols);
            for (int base = 0; base < cols; ) {
                int m = Math.min(pattern.group(), cols - base); // a row's trailing group may be narrower
                int n = pattern.keptInGroup(m);
                for (int j = 0; j < m; j++) {
                    keys[j] = magnitude(row[base + j]);
                }
                for (int j = 0; j < m; j++) {
                    int beaten = 0; // entries of the group ranked above j: larger, or equal and later
                    for (int other = 0; other < m; other++) {
                        if (keys[other] > keys[j] || (keys[other] == keys[j] && other > j)) {
                            beaten++;
                        }
                    }
                    if (beaten >= n) {
                        row[base + j] = 0f;
                    }
                    if (row[base + j] == 0f) {
                        long i = start + base + j;
                        zeros[(int) (i >>> 6)] |= 1L << (i & 63);
                    }
                }
                base += m;
            }
            MemorySegment.copy(row, 0, d, F32, start * 4, cols);
        }
    }
}
