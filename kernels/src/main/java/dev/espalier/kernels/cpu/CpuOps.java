package dev.espalier.kernels.cpu;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.HugePageMemory;
import dev.espalier.kernels.NotPositiveDefiniteException;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorChecks;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * The CPU backend: native OpenBLAS/LAPACKE ({@link OpenBlas}, through FFM) for dense linear algebra, Vector API
 * kernels ({@link VectorGemm}, {@link VectorKernels}, {@link ObsSweep}) for the GEMM shapes where they measured faster and for the
 * fused, memory-bound operations, all parallel over one fixed pool ({@link Parallel}). Results do not depend on the
 * thread count: every output element is computed by one thread in a fixed order. OpenBLAS itself runs
 * single-threaded (its own threading changes the rounding with the thread count); GEMM, SYRK and TRSM are cut into
 * shape-determined blocks on the pool ({@link BlasBlocks}); Cholesky and the eigendecomposition are one
 * single-threaded LAPACK call each.
 *
 * <p>Without the natives (or for tensors on the Java heap) everything still works: GEMM and Gram on the Vector API
 * kernel, Cholesky and triangular solves in {@link JavaLinearAlgebra}, the eigendecomposition on the reference
 * Jacobi method (slow). Element-wise operations on tensors that are not F32 use the reference loops.
 */
public final class CpuOps implements TensorOps {
    /** Which GEMM implementation to run; {@link #AUTO} picks by shape, as measured on this CPU. */
    public enum GemmPath {
        /** The dispatch rule of {@link #gemm(boolean, boolean, float, Tensor, Tensor, float, Tensor)}. */
        AUTO,
        /** cblas_sgemm (throws when OpenBLAS is not loaded). */
        OPENBLAS,
        /** The packed Vector API kernel (or its matrix-vector kernels for a few rows). */
        VECTOR
    }

    /** Up to this many multiply-adds (m·n·k) OpenBLAS's low fixed cost wins (measured: 64³ 5.7 µs vs 7.4 µs). */
    static final long SMALL_WORK = 64L * 64 * 64;
    /** Below this many multiply-adds the Vector API kernel runs on the calling thread only. */
    static final long PARALLEL_MIN_WORK = 64L * 64 * 64;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    /** Rows of x widened to f64 per dsyrk call in {@link #accumulateGram} with an F64 g. */
    private static final int GRAM_F64_CHUNK_ELEMENTS = 1 << 21;

    private final int threads;
    private final Parallel parallel;
    private final OpenBlas blas; // null when the natives are not available
    private final boolean blasHasAvx512Kernels; // OpenBLAS runs its AVX-512 GEMM kernels on this CPU
    private final ReferenceOps scalar = new ReferenceOps();

    /**
     * The width in bits of the Vector API registers the kernels use on this machine (256 with AVX2, 512 with AVX-512).
     * Sums are reduced across this many lanes, so results are bit-identical run to run and for any thread count on
     * machines of one width, but may differ in the last bits between widths.
     */
    public static int vectorBits() {
        return VectorKernels.D.vectorBitSize();
    }

    /** A backend on {@code threads} threads (the caller's thread counts as one), using OpenBLAS when it loads. */
    public CpuOps(int threads) {
        this(threads, true);
    }

    /** As {@link #CpuOps(int)}; with {@code useNative} false, OpenBLAS is not used even when it loads. */
    public CpuOps(int threads, boolean useNative) {
        this(new Parallel(threads), useNative);
    }

    /**
     * A backend on the threads of {@code shared}, which other backends use too (the CPU device workers of a host):
     * its calls use every thread of the pool that no other backend's call holds. Closing it leaves the pool open.
     */
    public CpuOps(ComputePool shared) {
        this(new Parallel(shared), true);
    }

    private CpuOps(Parallel parallel, boolean useNative) {
        this.threads = parallel.threads();
        this.parallel = parallel;
        this.blas = useNative ? OpenBlas.get() : null;
        this.blasHasAvx512Kernels = blas != null && blas.hasAvx512Kernels();
    }

    @Override
    public String name() {
        return "cpu";
    }

    public int threads() {
        return threads;
    }

    /** Whether this backend calls OpenBLAS. */
    public boolean usesOpenBlas() {
        return blas != null;
    }

    /**
     * {@inheritDoc}
     *
     * <p>a and b may be F32, BF16, F16 or F64 (non-F32 operands are first widened to an F32 scratch copy); c is F32.
     * The implementation is chosen by {@link #prefersVector}.
     */
    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        gemm(GemmPath.AUTO, transA, transB, alpha, a, b, beta, c);
    }

    /**
     * The dispatch rule of {@link GemmPath#AUTO}, from measurements on the 2-core Zen 5 (AVX-512) machine, 2 threads:
     * <ul>
     *   <li>one to {@link VectorGemm#SKINNY_ROWS} rows: the Vector API matrix-vector kernels (x·Wᵀ with W 4096 x 4096:
     *       0.66 ms for one row, 1.6 ms for four; sgemm 3-7 ms);</li>
     *   <li>m·n·k up to {@link #SMALL_WORK}: OpenBLAS (its fixed cost is lower: 64³ in 5.7 µs vs 7.4 µs);</li>
     *   <li>otherwise, when OpenBLAS runs AVX2 kernels on a CPU with 512-bit vectors (e.g. this machine's
     *       {@code OPENBLAS_CORETYPE=Haswell}): the Vector API kernel for at least 64 rows and 32 columns (n = 2048:
     *       ~420 GFLOP/s vs ~240), OpenBLAS for the rest (5 to 63 rows, narrow products);</li>
     *   <li>when OpenBLAS runs its AVX-512 kernels (SkylakeX, Cooperlake): OpenBLAS (n = 4096: 445 vs 420 GFLOP/s).</li>
     * </ul>
     */
    boolean prefersVector(int m, int n, int k) {
        if (blas == null || m <= VectorGemm.SKINNY_ROWS) {
            return true;
        }
        if ((long) m * n * k <= SMALL_WORK || blasHasAvx512Kernels || VectorGemm.L < 16) {
            return false;
        }
        return m >= 64 && n >= VectorGemm.NR;
    }

    /** {@link #gemm(boolean, boolean, float, Tensor, Tensor, float, Tensor)} on a chosen implementation. */
    public void gemm(
            GemmPath path, boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int[] mnk = TensorChecks.gemmShape(transA, transB, a, b, c);
        int m = mnk[0];
        int n = mnk[1];
        int k = mnk[2];
        if (path == GemmPath.OPENBLAS && blas == null) {
            throw new IllegalStateException("gemm: the OPENBLAS path was requested but OpenBLAS is not loaded");
        }
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0f) {
            scaleMatrix(c, beta);
            return;
        }
        if (a.dtype() != DType.F32 || b.dtype() != DType.F32) {
            try (Arena arena = Arena.ofShared()) {
                Tensor a32 = a.dtype() == DType.F32 ? a : a.copyAs(arena, DType.F32);
                Tensor b32 = b.dtype() == DType.F32 ? b : b.copyAs(arena, DType.F32);
                gemm(path, transA, transB, alpha, a32, b32, beta, c);
            }
            return;
        }
        boolean nativeSegments =
                a.data().isNative() && b.data().isNative() && c.data().isNative();
        boolean useBlas = switch (path) {
            case OPENBLAS -> true;
            case VECTOR -> false;
            case AUTO -> nativeSegments && !prefersVector(m, n, k);
        };
        if (useBlas) {
            if (!nativeSegments) {
                throw new IllegalArgumentException("gemm: OpenBLAS needs off-heap tensors, got a heap segment");
            }
            BlasBlocks.sgemm(
                    parallel,
                    blas,
                    transA,
                    transB,
                    m,
                    n,
                    k,
                    alpha,
                    Parallel.shareable(a.data()),
                    a.rowStride(),
                    Parallel.shareable(b.data()),
                    b.rowStride(),
                    beta,
                    Parallel.shareable(c.data()),
                    c.rowStride());
            return;
        }
        scaleMatrix(c, beta);
        Parallel par = (long) m * n * k < PARALLEL_MIN_WORK ? Parallel.SERIAL : parallel;
        VectorGemm.multiply(
                par,
                transA,
                transB,
                m,
                n,
                k,
                alpha,
                Parallel.shareable(a.data()),
                a.rowStride(),
                Parallel.shareable(b.data()),
                b.rowStride(),
                Parallel.shareable(c.data()),
                c.rowStride());
    }

    /** c ← beta c over a (possibly strided) F32 matrix; beta 0 writes zeros, beta 1 does nothing. */
    private void scaleMatrix(Tensor c, float beta) {
        if (beta == 1f) {
            return;
        }
        MemorySegment cs = Parallel.shareable(c.data());
        long ld = c.rowStride();
        int cols = c.cols();
        parallel.forRange(c.rows(), grain(cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                VectorKernels.scale(cs, r * ld * 4L, cols, beta);
            }
        });
    }

    /**
     * {@inheritDoc}
     *
     * <p>With OpenBLAS: F32 g by {@code cblas_ssyrk}/{@code cblas_sgemm} blocks (f32 accumulation); F64 g by widening
     * x to f64 in chunks of rows, then {@code cblas_dsyrk}/{@code cblas_dgemm} blocks (f64 accumulation). Only the lower triangle is accumulated, then mirrored onto the
     * upper one, so g must be symmetric on entry (it is when it starts at zero and only this method adds to it).
     * Without OpenBLAS: F32 g by the Vector API GEMM (both triangles, bitwise symmetric), F64 g by f64 loops.
     */
    @Override
    public void accumulateGram(Tensor x, float scale, Tensor g) {
        int[] nd = TensorChecks.gramShape(x, g);
        int n = nd[0];
        int d = nd[1];
        if (n == 0 || d == 0) {
            return;
        }
        boolean nativeSegments = x.data().isNative() && g.data().isNative();
        if (g.dtype() == DType.F32) {
            if (blas != null && nativeSegments) {
                BlasBlocks.gramLower(
                        parallel,
                        blas,
                        false,
                        n,
                        d,
                        scale,
                        Parallel.shareable(x.data()),
                        x.rowStride(),
                        Parallel.shareable(g.data()),
                        g.rowStride());
                JavaLinearAlgebra.mirrorLower(parallel, Parallel.shareable(g.data()), g.rowStride(), d, DType.F32);
            } else {
                gemm(GemmPath.VECTOR, true, false, scale, x, x, 1f, g);
            }
            return;
        }
        if (blas != null && nativeSegments) {
            int chunk = Math.max(1, Math.min(n, GRAM_F64_CHUNK_ELEMENTS / d));
            try (Arena arena = Arena.ofShared()) {
                MemorySegment wide =
                        HugePageMemory.allocate(arena, (long) chunk * d * 8); // (chunk, d) rows of x in f64
                MemorySegment xs = Parallel.shareable(x.data());
                long ldx = x.rowStride();
                MemorySegment gs = Parallel.shareable(g.data());
                for (int r0 = 0; r0 < n; r0 += chunk) {
                    int rows = Math.min(chunk, n - r0);
                    int first = r0;
                    parallel.forRange(rows, grain(d), (a0, a1) -> {
                        for (int r = a0; r < a1; r++) {
                            long src = (first + r) * ldx;
                            long dst = (long) r * d;
                            for (int j = 0; j < d; j++) {
                                wide.setAtIndex(F64, dst + j, xs.getAtIndex(F32, src + j));
                            }
                        }
                    });
                    BlasBlocks.gramLower(parallel, blas, true, rows, d, scale, wide, d, gs, g.rowStride());
                }
            }
        } else {
            JavaLinearAlgebra.gramLowerF64(
                    parallel,
                    Parallel.shareable(x.data()),
                    x.rowStride(),
                    n,
                    d,
                    scale,
                    Parallel.shareable(g.data()),
                    g.rowStride());
        }
        JavaLinearAlgebra.mirrorLower(parallel, Parallel.shareable(g.data()), g.rowStride(), d, DType.F64);
    }

    /** {@inheritDoc} On the backend's {@link Parallel} pool, tasks handed out one at a time. */
    @Override
    public void forEachTask(int count, IntConsumer task) {
        parallel.forEachTask(count, task::accept);
    }

    /** {@inheritDoc} See {@link Parallel#shareable}. */
    @Override
    public MemorySegment shareable(MemorySegment segment) {
        return Parallel.shareable(segment);
    }

    /** {@inheritDoc} Blocked over LAPACK {@code spotrf}/{@code dpotrf} and BLAS-3 on the pool when OpenBLAS is loaded. */
    @Override
    public void cholesky(Tensor a) {
        int n = TensorChecks.choleskyShape(a);
        if (n == 0) {
            return;
        }
        if (blas == null || !a.data().isNative()) {
            JavaLinearAlgebra.cholesky(a.data(), n, a.dtype());
            return;
        }
        int info = BlasBlocks.choleskyLower(parallel, blas, a.dtype() == DType.F64, n, Parallel.shareable(a.data()));
        if (info > 0) {
            throw new NotPositiveDefiniteException(info - 1, n);
        }
        if (info < 0) {
            throw new IllegalStateException("cholesky: LAPACKE potrf rejected argument " + (-info) + " for n = " + n);
        }
        zeroStrictUpper(a.data(), n, a.dtype());
    }

    private void zeroStrictUpper(MemorySegment a, int n, DType dtype) {
        MemorySegment s = Parallel.shareable(a);
        long bytes = dtype.byteSize();
        parallel.forRange(n, grain(n), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                if (r + 1 < n) {
                    s.asSlice(((long) r * n + r + 1) * bytes, (long) (n - r - 1) * bytes)
                            .fill((byte) 0);
                }
            }
        });
    }

    /** {@inheritDoc} {@code cblas_strsm}/{@code cblas_dtrsm} when OpenBLAS is loaded. */
    @Override
    public void solveLowerTriangular(Tensor l, boolean transpose, Tensor b) {
        int[] nm = TensorChecks.triangularShape(l, b);
        int n = nm[0];
        int m = nm[1];
        if (n == 0 || m == 0) {
            return;
        }
        if (blas == null || !l.data().isNative() || !b.data().isNative()) {
            JavaLinearAlgebra.solveLower(
                    parallel, Parallel.shareable(l.data()), transpose, Parallel.shareable(b.data()), n, m, l.dtype());
            return;
        }
        BlasBlocks.trsmLowerLeft(
                parallel,
                blas,
                l.dtype() == DType.F64,
                transpose,
                n,
                m,
                Parallel.shareable(l.data()),
                Parallel.shareable(b.data()));
    }

    /**
     * {@inheritDoc} LAPACK {@code dsyevd} (divide and conquer) when OpenBLAS is loaded: the row-major lower triangle
     * is handed over as the column-major upper one; the eigenvectors come back as the columns of a column-major
     * matrix, i.e. the rows of the row-major buffer, and are transposed into {@code vectors}.
     */
    @Override
    public void symmetricEigen(Tensor a, Tensor values, Tensor vectors) {
        int n = TensorChecks.eigenShape(a, values, vectors);
        if (n == 0) {
            return;
        }
        if (blas == null || !a.data().isNative()) {
            scalar.symmetricEigen(a, values, vectors);
            return;
        }
        try (Arena arena = Arena.ofShared()) {
            MemorySegment work =
                    HugePageMemory.allocate(arena, (long) n * n * 8); // (n, n) a, then eigenvectors as rows
            MemorySegment w = arena.allocate((long) n * 8, 64); // (n) eigenvalues
            MemorySegment.copy(a.data(), 0, work, 0, (long) n * n * 8);
            int info = blas.dsyevdRowMajorLowerVectorsAsRows(n, work, n, w);
            if (info != 0) {
                throw new ArithmeticException("symmetricEigen: LAPACKE_dsyevd returned info " + info + " for n = " + n
                        + ", expected 0 (" + (info > 0 ? "the algorithm did not converge" : "an argument was rejected")
                        + ")");
            }
            for (int i = 0; i < n; i++) {
                values.setFlat(i, w.getAtIndex(F64, i));
            }
            MemorySegment vs = Parallel.shareable(vectors.data());
            long ld = vectors.rowStride();
            parallel.forRange(n, grain(n), (r0, r1) -> {
                for (int r = r0; r < r1; r++) { // vectors[r][c] = (eigenvector c)[r] = work[c][r]
                    for (int c = 0; c < n; c++) {
                        vs.setAtIndex(F64, r * ld + c, work.getAtIndex(F64, (long) c * n + r));
                    }
                }
            });
        }
    }

    /** {@inheritDoc} See {@link MaskedConjugateGradient}. */
    @Override
    public int maskedConjugateGradient(Tensor h, Tensor b, Tensor mask, Tensor x, int maxIterations, double tolerance) {
        TensorChecks.cgShape(h, b, mask, x, maxIterations, tolerance);
        return MaskedConjugateGradient.solve(this, parallel, h, b, mask, x, maxIterations, tolerance);
    }

    /** {@inheritDoc} See {@link ObsSweep}: tiles of rows on the pool, bit-identical to the reference. */
    @Override
    public void obsSweep(Tensor u, int nmKeep, int nmGroup, Tensor marks, Tensor w, Tensor errors) {
        TensorChecks.obsSweepShape(u, nmKeep, nmGroup, marks, w, errors);
        ObsSweep.run(parallel, u, nmKeep, nmGroup, marks, w, errors);
    }

    /** {@inheritDoc} The mean of squares in f64, then out = (x * inv) * weight in f32; rows in parallel. */
    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        int rows = TensorChecks.rowsOf("rmsNorm", "x", x);
        int d = TensorChecks.colsOf("rmsNorm", "x", x);
        TensorChecks.requireSameShape("rmsNorm", "out", out, "x", x);
        TensorChecks.requireShape("rmsNorm", "weight", weight, d);
        if (x.dtype() != DType.F32 || out.dtype() != DType.F32) {
            scalar.rmsNorm(x, weight, eps, out);
            return;
        }
        float[] w = weight.toFloatArray();
        MemorySegment xs = Parallel.shareable(x.data());
        MemorySegment os = Parallel.shareable(out.data());
        long ldx = TensorChecks.strideOf(x) * 4L;
        long ldo = TensorChecks.strideOf(out) * 4L;
        parallel.forRange(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                double ss = VectorKernels.sumOfSquares(xs, r * ldx, d);
                float inv = (float) (1.0 / Math.sqrt(ss / d + eps));
                VectorKernels.scaleByWeights(xs, r * ldx, inv, w, os, r * ldo, d);
            }
        });
    }

    /** {@inheritDoc} Angles as f32 products, cosines and sines rounded to f32 (as the reference). */
    @Override
    public void rope(Tensor x, int headDim, int startPosition, Tensor invFreq) {
        int[] rh = TensorChecks.ropeShape(x, headDim, invFreq);
        if (x.dtype() != DType.F32) {
            scalar.rope(x, headDim, startPosition, invFreq);
            return;
        }
        int half = headDim / 2;
        float[] freq = invFreq.toFloatArray();
        MemorySegment xs = Parallel.shareable(x.data());
        long ld = TensorChecks.strideOf(x) * 4L;
        int heads = rh[1];
        parallel.forRange(rh[0], grain(heads * headDim), (r0, r1) -> {
            float[] cos = new float[half];
            float[] sin = new float[half];
            for (int r = r0; r < r1; r++) {
                float position = startPosition + r;
                for (int i = 0; i < half; i++) {
                    float angle = position * freq[i];
                    cos[i] = (float) Math.cos(angle);
                    sin[i] = (float) Math.sin(angle);
                }
                VectorKernels.rotateHalves(xs, r * ld, heads, headDim, cos, sin);
            }
        });
    }

    /** {@inheritDoc} Rows in parallel; maximum and sum in f32. */
    @Override
    public void causalSoftmax(Tensor scores, int firstQueryPosition, float scale, int window) {
        TensorChecks.requireRank("causalSoftmax", "scores", scores, 2);
        if (scores.dtype() != DType.F32) {
            scalar.causalSoftmax(scores, firstQueryPosition, scale, window);
            return;
        }
        int t = scores.cols();
        MemorySegment s = Parallel.shareable(scores.data());
        long ld = scores.rowStride() * 4L;
        parallel.forRange(scores.rows(), grain(t), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long position = (long) firstQueryPosition + r;
                int visible = (int) Math.max(0, Math.min(t, position + 1));
                int first = window > 0 ? (int) Math.max(0, Math.min(visible, position - window + 1)) : 0;
                if (first > 0) { // keys before the sliding window: masked, the rest a softmax of its own
                    s.asSlice(r * ld, first * 4L).fill((byte) 0);
                }
                VectorKernels.softmaxPrefix(s, r * ld + first * 4L, t - first, visible - first, scale);
            }
        });
    }

    @Override
    public void siluMul(Tensor gate, Tensor up, Tensor out) {
        TensorChecks.requireSameShape("siluMul", "up", up, "gate", gate);
        TensorChecks.requireSameShape("siluMul", "out", out, "gate", gate);
        if (!allF32(gate, up, out) || !rowsAddressable(gate, up, out)) {
            scalar.siluMul(gate, up, out);
            return;
        }
        MemorySegment g = Parallel.shareable(gate.data());
        MemorySegment u = Parallel.shareable(up.data());
        MemorySegment o = Parallel.shareable(out.data());
        forRows(
                gate,
                (r, width, offsets) -> VectorKernels.siluMul(g, offsets[0], u, offsets[1], o, offsets[2], width),
                gate,
                up,
                out);
    }

    @Override
    public void add(Tensor x, Tensor y) {
        TensorChecks.requireSameShape("add", "y", y, "x", x);
        if (!allF32(x, y) || !rowsAddressable(x, y)) {
            scalar.add(x, y);
            return;
        }
        MemorySegment xs = Parallel.shareable(x.data());
        MemorySegment ys = Parallel.shareable(y.data());
        forRows(x, (r, width, offsets) -> VectorKernels.add(xs, offsets[0], ys, offsets[1], width), x, y);
    }

    @Override
    public void addRowVector(Tensor bias, Tensor y) {
        int d = TensorChecks.colsOf("addRowVector", "y", y);
        TensorChecks.requireShape("addRowVector", "bias", bias, d);
        if (y.dtype() != DType.F32) {
            scalar.addRowVector(bias, y);
            return;
        }
        float[] b = bias.toFloatArray();
        MemorySegment ys = Parallel.shareable(y.data());
        long ld = TensorChecks.strideOf(y) * 4L;
        parallel.forRange(TensorChecks.rowsOf("addRowVector", "y", y), grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                VectorKernels.addArray(b, ys, r * ld, d);
            }
        });
    }

    private interface RowBody {
        void run(int row, int width, long[] byteOffsets);
    }

    /**
     * Runs {@code body} over the rows of same-shaped tensors: the rows of 2-D tensors (each with its own stride), or
     * chunks of a contiguous tensor of another rank; offsets are in bytes, one per tensor.
     */
    private void forRows(Tensor shape, RowBody body, Tensor... tensors) {
        if (shape.rank() == 2) {
            int cols = shape.cols();
            parallel.forRange(shape.rows(), grain(cols), (r0, r1) -> {
                long[] offsets = new long[tensors.length];
                for (int r = r0; r < r1; r++) {
                    for (int t = 0; t < tensors.length; t++) {
                        offsets[t] = r * tensors[t].rowStride() * 4L;
                    }
                    body.run(r, cols, offsets);
                }
            });
            return;
        }
        long total = shape.numel();
        int chunk = 1 << 14;
        int chunks = (int) ((total + chunk - 1) / chunk);
        parallel.forRange(chunks, 1, (c0, c1) -> {
            long[] offsets = new long[tensors.length];
            for (int c = c0; c < c1; c++) {
                long start = (long) c * chunk;
                Arrays.fill(offsets, start * 4L);
                body.run(c, (int) Math.min(chunk, total - start), offsets);
            }
        });
    }

    private static boolean allF32(Tensor... tensors) {
        for (Tensor t : tensors) {
            if (t.dtype() != DType.F32) {
                return false;
            }
        }
        return true;
    }

    /** 2-D tensors (any strides) or contiguous tensors of another rank. */
    private static boolean rowsAddressable(Tensor... tensors) {
        for (Tensor t : tensors) {
            if (t.rank() != 2 && !t.isContiguous()) {
                return false;
            }
        }
        return true;
    }

    /** Rows per parallel piece so that a piece holds at least ~16 K elements. */
    private static int grain(int rowLength) {
        return Math.max(1, (1 << 14) / Math.max(1, rowLength));
    }

    @Override
    public void close() {
        parallel.close();
    }
}
