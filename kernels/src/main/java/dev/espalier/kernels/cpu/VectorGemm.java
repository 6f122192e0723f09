package dev.espalier.kernels.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision GEMM {@code c += alpha op(a) op(b)} in Java with the Vector API, structured after Goto and van de
 * Geijn: op(b) is packed per (KC x NC) block into panels of NR = NV vectors of columns, op(a) per (MC x KC) block
 * into panels of MR rows, and an MR x NR register tile accumulates one panel pair with FMAs (the B panel stays in
 * L1, the A block in L2, the B block in L3). Blocks of rows (or, for few rows, of column panels) run in parallel;
 * each element of c is updated by one task, in the same k order whatever the thread count. Rows of one or a few
 * outputs (matrix-vector shapes) go to unpacked dot-product / axpy kernels instead.
 *
 * <p>The caller applies beta beforehand (c ← beta c); here c only accumulates. All segments hold F32 in native byte
 * order, rows {@code ld*} elements apart.
 */
final class VectorGemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final long VBYTES = L * 4L;
    static final int MR = 8;
    static final int NV = 2;
    static final int NR = NV * L;
    static final int KC = 256;
    static final int MC_MAX = 256;
    static final int NC = 1024 / NR * NR;
    /** Up to this many rows of op(a), the unpacked matrix-vector kernels are used. */
    static final int SKINNY_ROWS = 4;

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[3][]);

    private VectorGemm() {}

    /** {@code c += alpha op(a) op(b)} with op(a) (m, k), op(b) (k, n), c (m, n). */
    static void multiply(
            Parallel par,
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            MemorySegment a,
            long lda,
            MemorySegment b,
            long ldb,
            MemorySegment c,
            long ldc) {
        if (m == 0 || n == 0 || k == 0) {
            return;
        }
        if (m <= SKINNY_ROWS) {
            multiplySkinny(par, transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
            return;
        }
        int kcMax = Math.min(KC, k);
        int ncMax = Math.min(NC, roundUp(n, NR));
        float[] bp = new float[kcMax * ncMax]; // packed op(b) block: panel jp at jp*kc*NR, (kc, NR) each
        int threads = par.threads();
        int mBlocks = roundUp(ceilDiv(m, MC_MAX), threads);
        int mc = Math.min(MC_MAX, roundUp(ceilDiv(m, mBlocks), MR));
        mBlocks = ceilDiv(m, mc);
        for (int jc0 = 0; jc0 < n; jc0 += NC) {
            final int jc = jc0;
            final int nc = Math.min(NC, n - jc);
            final int panels = ceilDiv(nc, NR);
            final int blocks = mBlocks;
            final int splits = blocks >= threads ? 1 : Math.min(panels, ceilDiv(threads, blocks));
            for (int pc0 = 0; pc0 < k; pc0 += KC) {
                final int pc = pc0;
                final int kc = Math.min(KC, k - pc);
                par.forRange(panels, 8, (from, to) -> {
                    for (int jp = from; jp < to; jp++) {
                        int j0 = jc + jp * NR;
                        packB(transB, b, ldb, pc, kc, j0, Math.min(NR, n - j0), bp, jp * kc * NR);
                    }
                });
                par.forEachTask(blocks * splits, t -> {
                    int ic = (t / splits) * mc;
                    int rows = Math.min(mc, m - ic);
                    int split = t % splits;
                    int pFrom = panels * split / splits;
                    int pTo = panels * (split + 1) / splits;
                    float[][] scratch = SCRATCH.get();
                    float[] ap = buffer(scratch, 0, roundUp(rows, MR) * kc);
                    float[] tile = buffer(scratch, 1, MR * NR);
                    float[] line = buffer(scratch, 2, kc);
                    packA(transA, a, lda, ic, rows, pc, kc, ap, line);
                    for (int jp = pFrom; jp < pTo; jp++) {
                        int j0 = jc + jp * NR;
                        int cols = Math.min(NR, n - j0);
                        for (int ir = 0; ir < rows; ir += MR) {
                            long cOff = ((ic + ir) * ldc + j0) * 4L;
                            kernel(ap, ir * kc, bp, jp * kc * NR, kc, tile);
                            storeTile(tile, alpha, c, cOff, ldc * 4L, Math.min(MR, rows - ir), cols);
                        }
                    }
                });
            }
        }
    }

    /** Packs op(a)[i0..i0+rows, p0..p0+kc) as panels of MR rows, each (kc, MR), zero-padded to MR rows. */
    static void packA(
            boolean transA, MemorySegment a, long lda, int i0, int rows, int p0, int kc, float[] ap, float[] line) {
        for (int ir = 0; ir < rows; ir += MR) {
            int base = ir * kc;
            int valid = Math.min(MR, rows - ir);
            if (transA) { // op(a)(i, p) = a[p][i]: MR contiguous values per p
                for (int p = 0; p < kc; p++) {
                    int dst = base + p * MR;
                    MemorySegment.copy(a, F32, ((p0 + p) * lda + i0 + ir) * 4L, ap, dst, valid);
                    for (int i = valid; i < MR; i++) {
                        ap[dst + i] = 0;
                    }
                }
            } else { // op(a)(i, p) = a[i][p]: one row at a time, scattered with stride MR
                for (int i = 0; i < MR; i++) {
                    if (i < valid) {
                        MemorySegment.copy(a, F32, ((i0 + ir + i) * lda + p0) * 4L, line, 0, kc);
                        for (int p = 0; p < kc; p++) {
                            ap[base + p * MR + i] = line[p];
                        }
                    } else {
                        for (int p = 0; p < kc; p++) {
                            ap[base + p * MR + i] = 0;
                        }
                    }
                }
            }
        }
    }

    /** Packs op(b)[p0..p0+kc, j0..j0+cols) into one panel (kc, NR) at {@code dst}, zero-padded to NR columns. */
    static void packB(
            boolean transB, MemorySegment b, long ldb, int p0, int kc, int j0, int cols, float[] bp, int dst) {
        if (!transB) { // op(b)(p, j) = b[p][j]: NR contiguous values per p
            for (int p = 0; p < kc; p++) {
                int o = dst + p * NR;
                MemorySegment.copy(b, F32, ((p0 + p) * ldb + j0) * 4L, bp, o, cols);
                for (int j = cols; j < NR; j++) {
                    bp[o + j] = 0;
                }
            }
        } else { // op(b)(p, j) = b[j][p]: read column j of op(b) as a row of b
            for (int j = 0; j < NR; j++) {
                if (j < cols) {
                    long src = ((j0 + j) * ldb + p0) * 4L;
                    for (int p = 0; p < kc; p++) {
                        bp[dst + p * NR + j] = b.get(F32, src + p * 4L);
                    }
                } else {
                    for (int p = 0; p < kc; p++) {
                        bp[dst + p * NR + j] = 0;
                    }
                }
            }
        }
    }

    /**
     * The 8 x 2L register tile: tile[i][j] = Σ_p ap[p][i] bp[p][j] over kc packed steps, accumulated with FMAs
     * in p order. Kept small (no epilogue) so that the JIT compiles it reliably at every tier.
     */
    static void kernel(float[] ap, int ao, float[] bp, int bo, int kc, float[] tile) {
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S);
        FloatVector c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S);
        FloatVector c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S);
        FloatVector c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S);
        FloatVector c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S);
        FloatVector c51 = FloatVector.zero(S);
        FloatVector c60 = FloatVector.zero(S);
        FloatVector c61 = FloatVector.zero(S);
        FloatVector c70 = FloatVector.zero(S);
        FloatVector c71 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int a = ao + p * MR;
            int b = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, b);
            FloatVector b1 = FloatVector.fromArray(S, bp, b + 1 * L);
            FloatVector a0 = FloatVector.broadcast(S, ap[a + 0]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[a + 1]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[a + 2]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[a + 3]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[a + 4]);
            c40 = a4.fma(b0, c40);
            c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[a + 5]);
            c50 = a5.fma(b0, c50);
            c51 = a5.fma(b1, c51);
            FloatVector a6 = FloatVector.broadcast(S, ap[a + 6]);
            c60 = a6.fma(b0, c60);
            c61 = a6.fma(b1, c61);
            FloatVector a7 = FloatVector.broadcast(S, ap[a + 7]);
            c70 = a7.fma(b0, c70);
            c71 = a7.fma(b1, c71);
        }
        c00.intoArray(tile, 0 * L);
        c01.intoArray(tile, 1 * L);
        c10.intoArray(tile, 2 * L);
        c11.intoArray(tile, 3 * L);
        c20.intoArray(tile, 4 * L);
        c21.intoArray(tile, 5 * L);
        c30.intoArray(tile, 6 * L);
        c31.intoArray(tile, 7 * L);
        c40.intoArray(tile, 8 * L);
        c41.intoArray(tile, 9 * L);
        c50.intoArray(tile, 10 * L);
        c51.intoArray(tile, 11 * L);
        c60.intoArray(tile, 12 * L);
        c61.intoArray(tile, 13 * L);
        c70.intoArray(tile, 14 * L);
        c71.intoArray(tile, 15 * L);
    }

    /**
     * c[i][j] = fma(tile[i][j], alpha, c[i][j]) on the valid {@code rows} x {@code cols} part of a tile; whole
     * tiles with vectors, partial ones element by element (the same single rounding either way).
     */
    static void storeTile(float[] tile, float alpha, MemorySegment c, long cOff, long ldcBytes, int rows, int cols) {
        if (rows == MR && cols == NR) {
            FloatVector va = FloatVector.broadcast(S, alpha);
            for (int i = 0; i < MR; i++) {
                long row = cOff + i * ldcBytes;
                for (int j = 0; j < NV; j++) {
                    long o = row + j * VBYTES;
                    FloatVector.fromArray(S, tile, (i * NV + j) * L)
                            .fma(va, FloatVector.fromMemorySegment(S, c, o, NATIVE))
                            .intoMemorySegment(c, o, NATIVE);
                }
            }
            return;
        }
        for (int i = 0; i < rows; i++) {
            long row = cOff + i * ldcBytes;
            for (int j = 0; j < cols; j++) {
                long o = row + j * 4L;
                c.set(F32, o, Math.fma(tile[i * NR + j], alpha, c.get(F32, o)));
            }
        }
    }

    /**
     * Few rows of op(a): copies them into an array, then either dot products against the rows of b (transB, the
     * {@code linear} layout) or axpys over rows of b, both vectorised along the contiguous dimension, parallel over
     * columns of c.
     */
    private static void multiplySkinny(
            Parallel par,
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            MemorySegment a,
            long lda,
            MemorySegment b,
            long ldb,
            MemorySegment c,
            long ldc) {
        float[] rows = new float[m * k]; // (m, k) op(a)
        for (int i = 0; i < m; i++) {
            if (transA) {
                for (int p = 0; p < k; p++) {
                    rows[i * k + p] = a.get(F32, (p * lda + i) * 4L);
                }
            } else {
                MemorySegment.copy(a, F32, i * lda * 4L, rows, i * k, k);
            }
        }
        if (transB) {
            par.forRange(ceilDiv(n, 4), 16, (from, to) -> {
                for (int jb = from; jb < to; jb++) {
                    dotColumns(rows, m, k, alpha, b, ldb, jb * 4, Math.min(4, n - jb * 4), c, ldc);
                }
            });
        } else {
            int chunk = 4 * L;
            par.forRange(ceilDiv(n, chunk), 4, (from, to) -> {
                for (int jb = from; jb < to; jb++) {
                    axpyColumns(rows, m, k, alpha, b, ldb, jb * chunk, Math.min(chunk, n - jb * chunk), c, ldc);
                }
            });
        }
    }

    /**
     * c[i][j] += alpha * dot(rows[i], b[j]) for i < m and j in [j0, j0 + count), count ≤ 4: four dot products at once
     * (four independent FMA chains), each reduced lane by lane in order, then the scalar tail in order.
     */
    private static void dotColumns(
            float[] rows,
            int m,
            int k,
            float alpha,
            MemorySegment b,
            long ldb,
            int j0,
            int count,
            MemorySegment c,
            long ldc) {
        int vk = k - k % L;
        float[] lanes = new float[4 * L];
        long[] bj = new long[4];
        for (int j = 0; j < 4; j++) {
            bj[j] = (j0 + Math.min(j, count - 1)) * ldb * 4L; // short blocks repeat their last column
        }
        for (int i = 0; i < m; i++) {
            int ai = i * k;
            FloatVector acc0 = FloatVector.zero(S);
            FloatVector acc1 = FloatVector.zero(S);
            FloatVector acc2 = FloatVector.zero(S);
            FloatVector acc3 = FloatVector.zero(S);
            long b0 = bj[0];
            long b1 = bj[1];
            long b2 = bj[2];
            long b3 = bj[3];
            for (int p = 0; p < vk; p += L) {
                FloatVector x = FloatVector.fromArray(S, rows, ai + p);
                long o = p * 4L;
                acc0 = x.fma(FloatVector.fromMemorySegment(S, b, b0 + o, NATIVE), acc0);
                acc1 = x.fma(FloatVector.fromMemorySegment(S, b, b1 + o, NATIVE), acc1);
                acc2 = x.fma(FloatVector.fromMemorySegment(S, b, b2 + o, NATIVE), acc2);
                acc3 = x.fma(FloatVector.fromMemorySegment(S, b, b3 + o, NATIVE), acc3);
            }
            acc0.intoArray(lanes, 0);
            acc1.intoArray(lanes, L);
            acc2.intoArray(lanes, 2 * L);
            acc3.intoArray(lanes, 3 * L);
            for (int j = 0; j < count; j++) {
                float dot = 0;
                for (int l = 0; l < L; l++) {
                    dot += lanes[j * L + l];
                }
                for (int p = vk; p < k; p++) {
                    dot = Math.fma(rows[ai + p], b.get(F32, bj[j] + p * 4L), dot);
                }
                long o = (i * ldc + j0 + j) * 4L;
                c.set(F32, o, Math.fma(dot, alpha, c.get(F32, o)));
            }
        }
    }

    /** c[i][j0..j0+count) += alpha * Σ_p rows[i][p] b[p][j0..j0+count) for i < m, count ≤ 4L. */
    private static void axpyColumns(
            float[] rows,
            int m,
            int k,
            float alpha,
            MemorySegment b,
            long ldb,
            int j0,
            int count,
            MemorySegment c,
            long ldc) {
        FloatVector va = FloatVector.broadcast(S, alpha);
        for (int i = 0; i < m; i++) {
            int ai = i * k;
            long ci = (i * ldc + j0) * 4L;
            if (count == 4 * L) {
                FloatVector c0 = FloatVector.zero(S);
                FloatVector c1 = FloatVector.zero(S);
                FloatVector c2 = FloatVector.zero(S);
                FloatVector c3 = FloatVector.zero(S);
                for (int p = 0; p < k; p++) {
                    FloatVector x = FloatVector.broadcast(S, rows[ai + p]);
                    long bp = (p * ldb + j0) * 4L;
                    c0 = x.fma(FloatVector.fromMemorySegment(S, b, bp, NATIVE), c0);
                    c1 = x.fma(FloatVector.fromMemorySegment(S, b, bp + VBYTES, NATIVE), c1);
                    c2 = x.fma(FloatVector.fromMemorySegment(S, b, bp + 2 * VBYTES, NATIVE), c2);
                    c3 = x.fma(FloatVector.fromMemorySegment(S, b, bp + 3 * VBYTES, NATIVE), c3);
                }
                c0.fma(va, FloatVector.fromMemorySegment(S, c, ci, NATIVE)).intoMemorySegment(c, ci, NATIVE);
                c1.fma(va, FloatVector.fromMemorySegment(S, c, ci + VBYTES, NATIVE))
                        .intoMemorySegment(c, ci + VBYTES, NATIVE);
                c2.fma(va, FloatVector.fromMemorySegment(S, c, ci + 2 * VBYTES, NATIVE))
                        .intoMemorySegment(c, ci + 2 * VBYTES, NATIVE);
                c3.fma(va, FloatVector.fromMemorySegment(S, c, ci + 3 * VBYTES, NATIVE))
                        .intoMemorySegment(c, ci + 3 * VBYTES, NATIVE);
                continue;
            }
            int j = 0;
            for (; j + L <= count; j += L) {
                FloatVector acc = FloatVector.zero(S);
                for (int p = 0; p < k; p++) {
                    acc = FloatVector.broadcast(S, rows[ai + p])
                            .fma(FloatVector.fromMemorySegment(S, b, (p * ldb + j0 + j) * 4L, NATIVE), acc);
                }
                long o = ci + j * 4L;
                acc.fma(va, FloatVector.fromMemorySegment(S, c, o, NATIVE)).intoMemorySegment(c, o, NATIVE);
            }
            for (; j < count; j++) { // scalar tail
                float acc = 0;
                for (int p = 0; p < k; p++) {
                    acc = Math.fma(rows[ai + p], b.get(F32, (p * ldb + j0 + j) * 4L), acc);
                }
                long o = ci + j * 4L;
                c.set(F32, o, Math.fma(acc, alpha, c.get(F32, o)));
            }
        }
    }

    private static float[] buffer(float[][] scratch, int slot, int size) {
        if (scratch[slot] == null || scratch[slot].length < size) {
            scratch[slot] = new float[size];
        }
        return scratch[slot];
    }

    static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    static int roundUp(int x, int multiple) {
        return ceilDiv(x, multiple) * multiple;
    }
}
