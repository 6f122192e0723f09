package dev.espalier.kernels.cpu;

import java.lang.foreign.MemorySegment;

/**
 * OpenBLAS level-3 calls made thread-count independent. OpenBLAS's own threading changes the rounding of results
 * with the thread count (measured: cblas_sgemm 300x260x270 differs in the last bits between 1 and 2 threads), so
 * OpenBLAS runs single-threaded and the output is cut into blocks that depend on the shape only; each block is one
 * single-threaded BLAS call on the {@link Parallel} pool. An element is then always computed by the same call on the
 * same block, whatever the number of threads. The one exception, {@link #sgemm} on cores whose results do not depend
 * on the block height, sizes its blocks by the thread count. All segments must be reachable from the pool's threads
 * ({@link Parallel#shareable}) and native; strides and offsets are in elements.
 */
final class BlasBlocks {
    private BlasBlocks() {}

    /**
     * Below this m·n·k OpenBLAS 0.3.31 may hand an sgemm to its small-matrix or "direct" kernels (its
     * {@code sgemm_small_kernel_permit} and {@code sgemm_direct_performant}: 100³ and 28·512²), which round
     * differently from its packed kernels: a row block that falls under it while the whole product does not changes
     * the bytes (measured: 200 x 350 x 350 in blocks of 8 rows, {@code BlasRowBlocksTest}).
     */
    static final long PACKED_MIN_WORK = 28L * 512 * 512;

    /**
     * c = alpha op(a) op(b) + beta c with row blocks of c (or column blocks when c has few rows); the last row block
     * also takes the rows left over. Each block's call packs all of op(b) again, so fewer blocks are faster. Where the
     * core's packed kernels do not depend on the block height ({@link OpenBlas#sgemmRowBlocksExact}) and every block
     * of 64 rows or more stays on them ({@link #PACKED_MIN_WORK}), there is one block per thread of {@code par}: the
     * bytes are still those of one call. Elsewhere blocks follow the shape alone: up to eight, of at most 512 rows.
     */
    static void sgemm(
            Parallel par,
            OpenBlas blas,
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
            float beta,
            MemorySegment c,
            long ldc) {
        if (m >= 128) {
            boolean perThread = blas.sgemmRowBlocksExact() && 64L * n * k >= PACKED_MIN_WORK;
            int rows = perThread
                    ? Math.max(64, m / par.threads() / 64 * 64)
                    : Math.min(512, Math.max(64, roundUp(ceilDiv(m, 8), 64)));
            int blocks = perThread ? m / rows : ceilDiv(m, rows);
            par.forEachTask(blocks, t -> {
                int r0 = t * rows;
                int h = t == blocks - 1 ? m - r0 : rows;
                long aOff = transA ? r0 : r0 * lda; // op(a) rows r0.. are columns of a when transposed
                blas.sgemm(
                        transA,
                        transB,
                        h,
                        n,
                        k,
                        alpha,
                        a.asSlice(aOff * 4),
                        lda,
                        b,
                        ldb,
                        beta,
                        c.asSlice(r0 * ldc * 4),
                        ldc);
            });
        } else {
            int cols = Math.max(128, roundUp(ceilDiv(n, 32), 64));
            par.forEachTask(ceilDiv(n, cols), t -> {
                int c0 = t * cols;
                int w = Math.min(cols, n - c0);
                long bOff = transB ? c0 * ldb : c0; // op(b) columns c0.. are rows of b when transposed
                blas.sgemm(
                        transA,
                        transB,
                        m,
                        w,
                        k,
                        alpha,
                        a,
                        lda,
                        b.asSlice(bOff * 4),
                        ldb,
                        beta,
                        c.asSlice(c0 * 4L),
                        ldc);
            });
        }
    }

    /**
     * Lower triangle of g (d, d) += scale · xᵀx for x (n, d), in f32 ({@code f64} false: ssyrk/sgemm) or f64 (dsyrk/
     * dgemm, x already f64). Block row I of g gets a SYRK on its diagonal block and a GEMM left of it; the largest
     * block rows are handed out first.
     */
    static void gramLower(
            Parallel par,
            OpenBlas blas,
            boolean f64,
            int n,
            int d,
            double scale,
            MemorySegment x,
            long ldx,
            MemorySegment g,
            long ldg) {
        int size = Math.max(64, roundUp(ceilDiv(d, 16), 32));
        int blocks = ceilDiv(d, size);
        long e = f64 ? 8 : 4;
        par.forEachTask(blocks, t -> {
            int block = blocks - 1 - t;
            int i0 = block * size;
            int w = Math.min(size, d - i0);
            MemorySegment xi = x.asSlice(i0 * e);
            MemorySegment gii = g.asSlice((i0 * ldg + i0) * e);
            MemorySegment gi0 = g.asSlice(i0 * ldg * e);
            if (f64) {
                blas.dsyrkLower(true, w, n, scale, xi, ldx, 1.0, gii, ldg);
                if (i0 > 0) {
                    blas.dgemm(true, false, w, i0, n, scale, xi, ldx, x, ldx, 1.0, gi0, ldg);
                }
            } else {
                blas.ssyrkLower(true, w, n, (float) scale, xi, ldx, 1f, gii, ldg);
                if (i0 > 0) {
                    blas.sgemm(true, false, w, i0, n, (float) scale, xi, ldx, x, ldx, 1f, gi0, ldg);
                }
            }
        });
    }

    /** b ← op(L)⁻¹ b for L (n, n) and b (n, m) contiguous, by column blocks of b (columns are independent). */
    static void trsmLowerLeft(
            Parallel par,
            OpenBlas blas,
            boolean f64,
            boolean transpose,
            int n,
            int m,
            MemorySegment l,
            MemorySegment b) {
        int cols = Math.max(64, roundUp(ceilDiv(m, 16), 16));
        long e = f64 ? 8 : 4;
        par.forEachTask(ceilDiv(m, cols), t -> {
            int c0 = t * cols;
            int w = Math.min(cols, m - c0);
            if (f64) {
                blas.dtrsmLowerLeft(transpose, n, w, l, n, b.asSlice(c0 * e), m);
            } else {
                blas.strsmLowerLeft(transpose, n, w, l, n, b.asSlice(c0 * e), m);
            }
        });
    }

    /** Column width of the diagonal blocks of {@link #choleskyLower}. */
    static final int CHOLESKY_BLOCK = 256;

    /**
     * Right-looking blocked Cholesky a = L Lᵀ of a row-major (n, n) matrix into its lower triangle (the strict upper
     * triangle is left as it was): per block column, LAPACK potrf on the diagonal block, then the panel below it solved
     * by row blocks (b ← b · L₁₁⁻ᵀ) and the trailing lower triangle updated by row blocks (SYRK on the diagonal block,
     * GEMM left of it), both on the pool. Blocks depend on n only. Returns LAPACK's info: 0, or j + 1 when minor j
     * failed.
     */
    static int choleskyLower(Parallel par, OpenBlas blas, boolean f64, int n, MemorySegment a) {
        long e = f64 ? 8 : 4;
        long ld = n;
        for (int start = 0; start < n; start += CHOLESKY_BLOCK) {
            final int k0 = start;
            final int kb = Math.min(CHOLESKY_BLOCK, n - k0);
            MemorySegment diagonal = a.asSlice((k0 * ld + k0) * e);
            int info = f64 ? blas.dpotrfRowMajorLower(kb, diagonal, ld) : blas.spotrfRowMajorLower(kb, diagonal, ld);
            if (info != 0) {
                return info > 0 ? k0 + info : info;
            }
            int below = k0 + kb; // first row under the diagonal block
            int m = n - below;
            if (m == 0) {
                break;
            }
            int rows = Math.max(64, roundUp(ceilDiv(m, 8), 64));
            int tasks = ceilDiv(m, rows);
            par.forEachTask(tasks, t -> {
                int r0 = below + t * rows;
                int h = Math.min(rows, n - r0);
                MemorySegment panel = a.asSlice((r0 * ld + k0) * e);
                if (f64) {
                    blas.dtrsmLowerTransRight(h, kb, diagonal, ld, panel, ld);
                } else {
                    blas.strsmLowerTransRight(h, kb, diagonal, ld, panel, ld);
                }
            });
            MemorySegment firstPanelRow = a.asSlice((below * ld + k0) * e);
            par.forEachTask(tasks, t -> {
                int r0 = below + (tasks - 1 - t) * rows; // the widest block rows first
                int h = Math.min(rows, n - r0);
                MemorySegment panelRows = a.asSlice((r0 * ld + k0) * e);
                MemorySegment diagonalBlock = a.asSlice((r0 * ld + r0) * e);
                MemorySegment leftBlock = a.asSlice((r0 * ld + below) * e);
                int left = r0 - below;
                if (f64) {
                    blas.dsyrkLower(false, h, kb, -1.0, panelRows, ld, 1.0, diagonalBlock, ld);
                    if (left > 0) {
                        blas.dgemm(
                                false, true, h, left, kb, -1.0, panelRows, ld, firstPanelRow, ld, 1.0, leftBlock, ld);
                    }
                } else {
                    blas.ssyrkLower(false, h, kb, -1f, panelRows, ld, 1f, diagonalBlock, ld);
                    if (left > 0) {
                        blas.sgemm(false, true, h, left, kb, -1f, panelRows, ld, firstPanelRow, ld, 1f, leftBlock, ld);
                    }
                }
            });
        }
        return 0;
    }

    static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    static int roundUp(int x, int multiple) {
        return ceilDiv(x, multiple) * multiple;
    }
}
