package dev.espalier.kernels.cpu;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link TensorOps#obsSweep} on the Vector API. The rows, in tiles of {@link #TILE_ROWS}, are independent tasks on the
 * backend's pool ({@link Parallel#forEachTask}). A tile is held transposed on the heap, (k, TILE_ROWS), so that every
 * rank-1 update is a vector FMA over rows; the updates of {@link #GROUP} consecutive columns are applied to each later
 * column in one pass, in column order. Every weight thus sees the exact sequence of single-rounding updates
 * w ← fma(err_a, −U_ab, w) of the column-by-column formula, whatever the tile, the group or the thread that handles it,
 * so the results are bit-identical to the scalar reference.
 *
 * <p>Scratch: the k² floats of −Uᵀ and one tile (3 · k · TILE_ROWS floats) per thread that takes part, per call.
 */
final class ObsSweep {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /**
     * Rows per tile: 64 rows x 128 columns keep a tile in the L1 cache. The padding rows of the last tile are zero
     * (no mark, no error) and never written back.
     */
    static final int TILE_ROWS = 64;
    /** The vector part of a loop over a tile's rows; the rest (none for lane counts dividing 64) is the scalar tail. */
    private static final int VECTOR_ROWS = SPECIES.loopBound(TILE_ROWS);
    /** Columns whose errors are applied together to each later column (8 vectors held in registers). */
    static final int GROUP = 8;

    private final MemorySegment ws; // w's data, reachable from the pool's threads
    private final MemorySegment ms; // marks' data
    private final MemorySegment es; // errors' data
    private final long ldw;
    private final long ldm;
    private final long lde;
    private final int rows;
    private final int k;
    private final int nmKeep;
    private final int nmGroup; // 0: the marks are given
    private final int group; // GROUP, or 1 for an N:M group size that neither divides nor is divided by it
    private final float[] diag; // (k) U_aa
    private final float[] negUt; // (k, k) −Uᵀ: negUt[b · k + a] = −U_ab for a ≤ b
    private final ConcurrentLinkedQueue<Tile> tiles = new ConcurrentLinkedQueue<>(); // scratch, one per thread

    /** Per-thread scratch of one tile of rows. */
    private static final class Tile {
        final float[] values; // (k, TILE_ROWS) w[r0 : r0+TILE_ROWS, :]ᵀ
        final float[] errors; // (k, TILE_ROWS) errorsᵀ
        final float[] marks; // (k, TILE_ROWS) marksᵀ
        final float[] row; // (k) one row of w, errors or marks
        final int[] bits; // (M, TILE_ROWS) bits of w² / U_cc² of one N:M group
        final int[] rank; // (TILE_ROWS) ranks within the group

        Tile(int k, int m) {
            values = new float[k * TILE_ROWS];
            errors = new float[k * TILE_ROWS];
            marks = new float[k * TILE_ROWS];
            row = new float[k];
            bits = new int[Math.max(1, m) * TILE_ROWS];
            rank = new int[TILE_ROWS];
        }
    }

    private ObsSweep(Tensor u, int nmKeep, int nmGroup, Tensor marks, Tensor w, Tensor errors) {
        this.ws = Parallel.shareable(w.data());
        this.ms = Parallel.shareable(marks.data());
        this.es = Parallel.shareable(errors.data());
        this.ldw = w.rowStride();
        this.ldm = marks.rowStride();
        this.lde = errors.rowStride();
        this.rows = w.rows();
        this.k = w.cols();
        this.nmKeep = nmKeep;
        this.nmGroup = nmGroup;
        this.group = nmGroup == 0 || GROUP % nmGroup == 0 || nmGroup % GROUP == 0 ? GROUP : 1;
        this.diag = new float[k];
        this.negUt = new float[k * k];
        MemorySegment us = u.data();
        long ldu = u.rowStride();
        for (int a = 0; a < k; a++) {
            diag[a] = us.getAtIndex(F32, a * ldu + a);
            for (int b = a; b < k; b++) {
                negUt[b * k + a] = -us.getAtIndex(F32, a * ldu + b);
            }
        }
    }

    /** The kernel; arguments already checked. */
    static void run(Parallel parallel, Tensor u, int nmKeep, int nmGroup, Tensor marks, Tensor w, Tensor errors) {
        if (w.rows() == 0 || w.cols() == 0) {
            return;
        }
        ObsSweep sweep = new ObsSweep(u, nmKeep, nmGroup, marks, w, errors);
        int tileCount = (sweep.rows + TILE_ROWS - 1) / TILE_ROWS;
        parallel.forEachTask(tileCount, t -> sweep.sweepTile(t * TILE_ROWS));
    }

    /** Sweeps rows [r0, r0 + TILE_ROWS) ∩ [0, rows) through all k columns. */
    private void sweepTile(int r0) {
        int n = Math.min(TILE_ROWS, rows - r0);
        Tile tile = tiles.poll();
        if (tile == null) {
            tile = new Tile(k, nmGroup);
        }
        float[] x = tile.values;
        float[] row = tile.row;
        for (int r = 0; r < n; r++) { // transpose in, with the given marks (unstructured)
            MemorySegment.copy(ws, F32, (r0 + r) * ldw * 4, row, 0, k);
            for (int c = 0; c < k; c++) {
                x[c * TILE_ROWS + r] = row[c];
            }
            if (nmGroup == 0) {
                MemorySegment.copy(ms, F32, (r0 + r) * ldm * 4, row, 0, k);
                for (int c = 0; c < k; c++) {
                    tile.marks[c * TILE_ROWS + r] = row[c];
                }
            }
        }
        if (n < TILE_ROWS) { // zero padding: no mark, no error, nothing written back
            for (int c = 0; c < k; c++) {
                Arrays.fill(x, c * TILE_ROWS + n, (c + 1) * TILE_ROWS, 0f);
                Arrays.fill(tile.marks, c * TILE_ROWS + n, (c + 1) * TILE_ROWS, 0f);
            }
        }
        for (int a0 = 0; a0 < k; a0 += group) {
            int g = Math.min(group, k - a0);
            for (int a = a0; a < a0 + g; a++) {
                sweepColumn(tile, a, a0 + g);
            }
            if (g == GROUP) {
                updateByGroup(tile, a0);
            } else {
                for (int a = a0; a < a0 + g; a++) {
                    updateByColumn(tile, a, a0 + g);
                }
            }
        }
        for (int r = 0; r < n; r++) { // transpose out: the weights, the errors and (N:M) the marks
            transposeOut(x, r, row);
            MemorySegment.copy(row, 0, ws, F32, (r0 + r) * ldw * 4, k);
            transposeOut(tile.errors, r, row);
            MemorySegment.copy(row, 0, es, F32, (r0 + r) * lde * 4, k);
            if (nmGroup > 0) {
                transposeOut(tile.marks, r, row);
                MemorySegment.copy(row, 0, ms, F32, (r0 + r) * ldm * 4, k);
            }
        }
        tiles.add(tile);
    }

    /** row[c] = t[c · TILE_ROWS + r] for c &lt; k. */
    private void transposeOut(float[] t, int r, float[] row) {
        for (int c = 0; c < k; c++) {
            row[c] = t[c * TILE_ROWS + r];
        }
    }

    /**
     * Column a of the tile: N:M marks at a group start, err = w · mark / U_aa and w ← w − w · mark (branch-free), then
     * the updates of the later columns a+1 .. end−1 of its group.
     */
    private void sweepColumn(Tile tile, int a, int end) {
        if (nmGroup > 0 && a % nmGroup == 0) {
            markGroup(tile, a, Math.min(nmGroup, k - a));
        }
        float d = diag[a];
        float[] x = tile.values;
        float[] m = tile.marks;
        float[] e = tile.errors;
        int ca = a * TILE_ROWS;
        int v = 0;
        for (; v < VECTOR_ROWS; v += LANES) {
            FloatVector w = FloatVector.fromArray(SPECIES, x, ca + v);
            FloatVector dropped = w.mul(FloatVector.fromArray(SPECIES, m, ca + v));
            dropped.div(d).intoArray(e, ca + v);
            w.sub(dropped).intoArray(x, ca + v);
        }
        for (; v < TILE_ROWS; v++) {
            float w = x[ca + v];
            float dropped = w * m[ca + v];
            e[ca + v] = dropped / d;
            x[ca + v] = w - dropped;
        }
        for (int b = a + 1; b < end; b++) {
            axpy(negUt[b * k + a], e, ca, x, b * TILE_ROWS);
        }
    }

    /** Columns b ≥ a0 + GROUP of the tile: fma(err_{a0+j}, −U_{a0+j, b}, w) for j = 0..7 in order. */
    private void updateByGroup(Tile tile, int a0) {
        float[] x = tile.values;
        float[] e = tile.errors;
        int v = 0;
        for (; v < VECTOR_ROWS; v += LANES) {
            int o = a0 * TILE_ROWS + v;
            FloatVector e0 = FloatVector.fromArray(SPECIES, e, o);
            FloatVector e1 = FloatVector.fromArray(SPECIES, e, o + TILE_ROWS);
            FloatVector e2 = FloatVector.fromArray(SPECIES, e, o + 2 * TILE_ROWS);
            FloatVector e3 = FloatVector.fromArray(SPECIES, e, o + 3 * TILE_ROWS);
            FloatVector e4 = FloatVector.fromArray(SPECIES, e, o + 4 * TILE_ROWS);
            FloatVector e5 = FloatVector.fromArray(SPECIES, e, o + 5 * TILE_ROWS);
            FloatVector e6 = FloatVector.fromArray(SPECIES, e, o + 6 * TILE_ROWS);
            FloatVector e7 = FloatVector.fromArray(SPECIES, e, o + 7 * TILE_ROWS);
            for (int b = a0 + GROUP; b < k; b++) {
                int ub = b * k + a0;
                int cb = b * TILE_ROWS + v;
                FloatVector y = FloatVector.fromArray(SPECIES, x, cb);
                y = e0.fma(FloatVector.broadcast(SPECIES, negUt[ub]), y);
                y = e1.fma(FloatVector.broadcast(SPECIES, negUt[ub + 1]), y);
                y = e2.fma(FloatVector.broadcast(SPECIES, negUt[ub + 2]), y);
                y = e3.fma(FloatVector.broadcast(SPECIES, negUt[ub + 3]), y);
                y = e4.fma(FloatVector.broadcast(SPECIES, negUt[ub + 4]), y);
                y = e5.fma(FloatVector.broadcast(SPECIES, negUt[ub + 5]), y);
                y = e6.fma(FloatVector.broadcast(SPECIES, negUt[ub + 6]), y);
                y = e7.fma(FloatVector.broadcast(SPECIES, negUt[ub + 7]), y);
                y.intoArray(x, cb);
            }
        }
        for (; v < TILE_ROWS; v++) {
            int o = a0 * TILE_ROWS + v;
            for (int b = a0 + GROUP; b < k; b++) {
                int ub = b * k + a0;
                int cb = b * TILE_ROWS + v;
                float y = x[cb];
                for (int j = 0; j < GROUP; j++) {
                    y = Math.fma(e[o + j * TILE_ROWS], negUt[ub + j], y);
                }
                x[cb] = y;
            }
        }
    }

    /** Columns b ≥ from of the tile: fma(err_a, −U_ab, w). */
    private void updateByColumn(Tile tile, int a, int from) {
        for (int b = from; b < k; b++) {
            axpy(negUt[b * k + a], tile.errors, a * TILE_ROWS, tile.values, b * TILE_ROWS);
        }
    }

    /** y[yFrom + i] = fma(x[xFrom + i], alpha, y[yFrom + i]) for i &lt; TILE_ROWS. */
    private static void axpy(float alpha, float[] x, int xFrom, float[] y, int yFrom) {
        FloatVector va = FloatVector.broadcast(SPECIES, alpha);
        int v = 0;
        for (; v < VECTOR_ROWS; v += LANES) {
            FloatVector.fromArray(SPECIES, x, xFrom + v)
                    .fma(va, FloatVector.fromArray(SPECIES, y, yFrom + v))
                    .intoArray(y, yFrom + v);
        }
        for (; v < TILE_ROWS; v++) {
            y[yFrom + v] = Math.fma(x[xFrom + v], alpha, y[yFrom + v]);
        }
    }

    /**
     * Marks the g − n smallest w² / U_cc² among tile columns a..a+g−1 (g &lt; M for a trailing group), ties going to
     * the earlier column. Branch-free over rows: column c is marked when its rank #{h : s_h &lt; s_c} + #{h &lt; c :
     * s_h = s_c} is below g − n, with the scores compared as the integers of their bits (they are ≥ 0), so that a
     * comparison is the sign of a difference.
     */
    private void markGroup(Tile tile, int a, int g) {
        int kept = g == nmGroup ? nmKeep : (g * nmKeep + nmGroup - 1) / nmGroup;
        int drop = g - kept;
        int[] bits = tile.bits; // (g, TILE_ROWS)
        int[] rank = tile.rank;
        float[] x = tile.values;
        for (int c = 0; c < g; c++) {
            float d = diag[a + c];
            float dd = d * d;
            int from = (a + c) * TILE_ROWS;
            int to = c * TILE_ROWS;
            for (int r = 0; r < TILE_ROWS; r++) {
                float v = x[from + r];
                bits[to + r] = Float.floatToRawIntBits(v * v / dd);
            }
        }
        for (int c = 0; c < g; c++) {
            Arrays.fill(rank, 0);
            int sc = c * TILE_ROWS;
            for (int h = 0; h < g; h++) {
                int sh = h * TILE_ROWS;
                int orEqual = h < c ? 1 : 0; // s_h ≤ s_c counts for an earlier column, s_h < s_c for a later
                if (h != c) {
                    for (int r = 0; r < TILE_ROWS; r++) {
                        rank[r] += (bits[sh + r] - bits[sc + r] - orEqual) >>> 31;
                    }
                }
            }
            int target = (a + c) * TILE_ROWS;
            for (int r = 0; r < TILE_ROWS; r++) {
                tile.marks[target + r] = (rank[r] - drop) >>> 31; // 1 when rank < drop
            }
        }
    }
}
