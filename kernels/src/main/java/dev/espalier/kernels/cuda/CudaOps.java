package dev.espalier.kernels.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.NotPositiveDefiniteException;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorChecks;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.cuda.CudaKernels.Kernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * The {@link TensorOps} of one GPU: GEMM through cuBLAS ({@code cublasGemmEx}: f32 inputs, or bf16 / f16 ones as they
 * are stored, with f32 accumulation), Grams through SYRK, Cholesky and the eigendecomposition through cuSOLVER,
 * triangular solves through TRSM, and the element-wise and row kernels ({@link CudaKernels}) compiled by NVRTC.
 *
 * <p>Tensors are host tensors, as everywhere in the engine: each call copies its inputs to device memory from a pool,
 * runs on the device's stream and copies its outputs back before it returns, so it is synchronous as the contract asks.
 * Strided column views are copied as the span of rows they cover and passed with their row stride as leading
 * dimension. The masked conjugate gradient and the OBS sweep, which have no library call, run on the host's CPU
 * backend ({@link CpuOps}) for now, as do {@link #forEachTask} and the cross-entropy of logits.
 *
 * <p>Row-major matrices are column-major transposes, so a row-major product {@code C = op(A) op(B)} is cuBLAS's
 * {@code Cᵀ = op(B)ᵀ op(A)ᵀ}; the Cholesky factor of a row-major matrix is cuSOLVER's upper factor; a triangular
 * solve {@code op(L) X = B} is cuBLAS's right-side solve {@code Xᵀ op(L)ᵀ = Bᵀ}. Determinism: one stream, a fixed
 * cuBLAS workspace, the default (non-split-K-atomic) algorithms, reductions of the kernels in a fixed tree.
 */
public final class CudaOps implements TensorOps {
    private final CudaHost host;
    private final CudaHost.DeviceInfo info;
    private final String name;
    private final int device;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final DevicePool pool;
    private final DevicePool.Buffer workspace;
    private final Cublas cublas;
    private final Cusolver cusolver;
    private final CudaKernels kernels;
    private final CpuOps cpu;

    private CudaOps(CudaHost host, int ordinal, int hostThreads) {
        this.host = host;
        this.info = host.device(ordinal);
        this.name = "cuda:" + ordinal;
        CudaDriver driver = host.driver;
        this.device = driver.device(ordinal);
        this.context = driver.retainPrimaryContext(device);
        driver.setCurrent(context);
        this.stream = driver.createStream();
        this.pool = new DevicePool(driver);
        this.workspace = pool.acquire(Cublas.WORKSPACE_BYTES);
        this.cublas = Cublas.create(host.cublas, stream, workspace.pointer());
        this.cusolver = Cusolver.create(host.cusolver, stream);
        this.kernels = CudaKernels.load(driver, host.nvrtc, info.capability());
        this.cpu = new CpuOps(hostThreads);
    }

    /**
     * The backend of {@code cuda:<ordinal>}, using {@code hostThreads} CPU threads for what runs on the host;
     * CudaUnavailableException with the reason when this host cannot run it.
     */
    public static CudaOps open(int ordinal, int hostThreads) {
        return new CudaOps(CudaHost.get(), ordinal, Math.max(1, hostThreads));
    }

    @Override
    public String name() {
        return name;
    }

    /** The device, as {@link CudaHost.DeviceInfo#describe} says it. */
    public String describeDevice() {
        return info.describe();
    }

    @Override
    public synchronized void gemm(
            boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int[] mnk = TensorChecks.gemmShape(transA, transB, a, b, c);
        int m = mnk[0];
        int n = mnk[1];
        int k = mnk[2];
        if (m == 0 || n == 0 || k == 0 || alpha == 0f) {
            cpu.gemm(transA, transB, alpha, a, b, beta, c); // no product to run: c = beta * c
            return;
        }
        boolean half = a.dtype() == b.dtype() && (a.dtype() == DType.BF16 || a.dtype() == DType.F16);
        DType in = half ? a.dtype() : DType.F32;
        int type = in == DType.BF16 ? Cublas.R_16BF : in == DType.F16 ? Cublas.R_16F : Cublas.R_32F;
        try (Call call = enter()) {
            Dev da = call.in(a, in);
            Dev db = call.in(b, in);
            Dev dc = beta == 0f ? call.out(c, DType.F32) : call.in(c, DType.F32);
            cublas.gemm(
                    transB ? Cublas.OP_T : Cublas.OP_N,
                    transA ? Cublas.OP_T : Cublas.OP_N,
                    n,
                    m,
                    k,
                    alpha,
                    db.pointer,
                    type,
                    db.ld,
                    da.pointer,
                    type,
                    da.ld,
                    beta,
                    dc.pointer,
                    dc.ld);
            call.back(dc, c);
        }
    }

    @Override
    public synchronized void accumulateGram(Tensor x, float scale, Tensor g) {
        int[] nd = TensorChecks.gramShape(x, g);
        int n = nd[0];
        int d = nd[1];
        if (n == 0) {
            return;
        }
        boolean f64 = g.dtype() == DType.F64;
        try (Call call = enter()) {
            Dev dx = call.in(x, DType.F32);
            Dev dg = call.in(g, g.dtype());
            long a = dx.pointer;
            int lda = dx.ld;
            if (f64) {
                a = call.scratch((long) n * d * 8);
                kernels.launch(Kernel.WIDEN_F32_F64, n, 1, stream, dx.pointer, (long) dx.ld, a, d);
                lda = d;
            }
            // x's rows are the columns of the column-major xᵀ (d, n): C = xᵀ x, column-major lower = row-major upper.
            cublas.syrk(f64, Cublas.FILL_LOWER, Cublas.OP_N, d, n, scale, a, lda, 1.0, dg.pointer, dg.ld);
            kernels.launch(f64 ? Kernel.MIRROR_UPPER_F64 : Kernel.MIRROR_UPPER_F32, d, 1, stream, dg.pointer, d);
            call.back(dg, g);
        }
    }

    @Override
    public synchronized void cholesky(Tensor a) {
        int n = TensorChecks.choleskyShape(a);
        boolean f64 = a.dtype() == DType.F64;
        try (Call call = enter()) {
            Dev da = call.in(a, a.dtype());
            int lwork = cusolver.potrfWorkspace(f64, Cublas.FILL_UPPER, n, da.pointer);
            long work = call.scratch(Math.max(1, (long) lwork) * (f64 ? 8 : 4));
            long status = call.scratch(4);
            cusolver.potrf(f64, Cublas.FILL_UPPER, n, da.pointer, work, lwork, status);
            int failed = call.readInt(status);
            if (failed > 0) {
                throw new NotPositiveDefiniteException(failed - 1, n);
            }
            kernels.launch(f64 ? Kernel.ZERO_UPPER_F64 : Kernel.ZERO_UPPER_F32, n, 1, stream, da.pointer, n);
            call.back(da, a);
        }
    }

    @Override
    public synchronized void solveLowerTriangular(Tensor l, boolean transpose, Tensor b) {
        int[] nm = TensorChecks.triangularShape(l, b);
        int n = nm[0];
        int m = nm[1];
        if (n == 0 || m == 0) {
            return;
        }
        boolean f64 = l.dtype() == DType.F64;
        try (Call call = enter()) {
            Dev dl = call.in(l, l.dtype());
            Dev db = call.in(b, b.dtype());
            // Column-major, bᵀ (m, n) and Lᵀ (upper): solve Xᵀ op(L)ᵀ = Bᵀ from the right.
            cublas.trsm(
                    f64,
                    Cublas.SIDE_RIGHT,
                    Cublas.FILL_UPPER,
                    transpose ? Cublas.OP_T : Cublas.OP_N,
                    m,
                    n,
                    dl.pointer,
                    dl.ld,
                    db.pointer,
                    db.ld);
            call.back(db, b);
        }
    }

    @Override
    public synchronized void symmetricEigen(Tensor a, Tensor values, Tensor vectors) {
        int n = TensorChecks.eigenShape(a, values, vectors);
        try (Call call = enter()) {
            Dev da = call.in(a, DType.F64); // a copy: a itself is not modified
            Dev dw = call.out(values, DType.F64);
            int lwork = cusolver.syevdWorkspace(Cublas.FILL_UPPER, n, da.pointer, dw.pointer);
            long work = call.scratch(Math.max(1, (long) lwork) * 8);
            long status = call.scratch(4);
            cusolver.syevd(Cublas.FILL_UPPER, n, da.pointer, dw.pointer, work, lwork, status);
            int failed = call.readInt(status);
            if (failed != 0) {
                throw new ArithmeticException("symmetricEigen: cusolverDnDsyevd did not converge (info " + failed
                        + ") for a matrix of size " + n);
            }
            // Column-major, the eigenvectors are the columns of da, so its row-major rows; transpose them to columns.
            Dev dv = call.out(vectors, DType.F64);
            kernels.launch(Kernel.TRANSPOSE_F64, n, 1, stream, da.pointer, dv.pointer, n);
            call.back(dw, values);
            call.back(dv, vectors);
        }
    }

    /** {@inheritDoc} Runs on the host's CPU backend. */
    @Override
    public int maskedConjugateGradient(Tensor h, Tensor b, Tensor mask, Tensor x, int maxIterations, double tolerance) {
        return cpu.maskedConjugateGradient(h, b, mask, x, maxIterations, tolerance);
    }

    /** {@inheritDoc} Runs on the host's CPU backend. */
    @Override
    public void obsSweep(Tensor u, int nmKeep, int nmGroup, Tensor marks, Tensor w, Tensor errors) {
        cpu.obsSweep(u, nmKeep, nmGroup, marks, w, errors);
    }

    @Override
    public synchronized void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        int rows = TensorChecks.rowsOf("rmsNorm", "x", x);
        int d = TensorChecks.colsOf("rmsNorm", "x", x);
        TensorChecks.requireSameShape("rmsNorm", "out", out, "x", x);
        TensorChecks.requireShape("rmsNorm", "weight", weight, d);
        try (Call call = enter()) {
            Dev dx = call.in(x, DType.F32);
            Dev dw = call.in(weight, DType.F32);
            Dev dout = sameData(x, out) ? dx : call.out(out, DType.F32);
            kernels.launch(
                    Kernel.RMS_NORM,
                    rows,
                    1,
                    stream,
                    dx.pointer,
                    (long) dx.ld,
                    dw.pointer,
                    eps,
                    dout.pointer,
                    (long) dout.ld,
                    d);
            call.back(dout, out);
        }
    }

    @Override
    public synchronized void rope(Tensor x, int headDim, int startPosition, Tensor invFreq) {
        int[] rh = TensorChecks.ropeShape(x, headDim, invFreq);
        try (Call call = enter()) {
            Dev dx = call.in(x, DType.F32);
            Dev df = call.in(invFreq, DType.F32);
            kernels.launch(
                    Kernel.ROPE, rh[0], rh[1], stream, dx.pointer, (long) dx.ld, headDim, startPosition, df.pointer);
            call.back(dx, x);
        }
    }

    @Override
    public synchronized void causalSoftmax(Tensor scores, int firstQueryPosition, float scale, int window) {
        TensorChecks.requireRank("causalSoftmax", "scores", scores, 2);
        try (Call call = enter()) {
            Dev ds = call.in(scores, DType.F32);
            kernels.launch(
                    Kernel.CAUSAL_SOFTMAX,
                    scores.rows(),
                    1,
                    stream,
                    ds.pointer,
                    (long) ds.ld,
                    scores.cols(),
                    firstQueryPosition,
                    scale,
                    window);
            call.back(ds, scores);
        }
    }

    @Override
    public synchronized void siluMul(Tensor gate, Tensor up, Tensor out) {
        TensorChecks.requireSameShape("siluMul", "up", up, "gate", gate);
        TensorChecks.requireSameShape("siluMul", "out", out, "gate", gate);
        try (Call call = enter()) {
            Dev dg = call.in(gate, DType.F32);
            Dev du = sameData(gate, up) ? dg : call.in(up, DType.F32);
            Dev dout = sameData(gate, out) ? dg : sameData(up, out) ? du : call.out(out, DType.F32);
            kernels.launch(
                    Kernel.SILU_MUL,
                    dg.rows,
                    1,
                    stream,
                    dg.pointer,
                    (long) dg.ld,
                    du.pointer,
                    (long) du.ld,
                    dout.pointer,
                    (long) dout.ld,
                    dg.cols);
            call.back(dout, out);
        }
    }

    @Override
    public synchronized void add(Tensor x, Tensor y) {
        TensorChecks.requireSameShape("add", "y", y, "x", x);
        try (Call call = enter()) {
            Dev dy = call.in(y, DType.F32);
            Dev dx = sameData(x, y) ? dy : call.in(x, DType.F32);
            kernels.launch(Kernel.ADD, dy.rows, 1, stream, dx.pointer, (long) dx.ld, dy.pointer, (long) dy.ld, dy.cols);
            call.back(dy, y);
        }
    }

    @Override
    public synchronized void addRowVector(Tensor bias, Tensor y) {
        int d = TensorChecks.colsOf("addRowVector", "y", y);
        TensorChecks.requireShape("addRowVector", "bias", bias, d);
        rowVector(Kernel.ADD_ROW_VECTOR, bias, y);
    }

    @Override
    public synchronized void mulRowVector(Tensor scale, Tensor y) {
        int d = TensorChecks.colsOf("mulRowVector", "y", y);
        TensorChecks.requireShape("mulRowVector", "scale", scale, d);
        rowVector(Kernel.MUL_ROW_VECTOR, scale, y);
    }

    private void rowVector(Kernel kernel, Tensor vector, Tensor y) {
        try (Call call = enter()) {
            Dev dv = call.in(vector, DType.F32);
            Dev dy = call.in(y, DType.F32);
            kernels.launch(kernel, dy.rows, 1, stream, dv.pointer, dy.pointer, (long) dy.ld, dy.cols);
            call.back(dy, y);
        }
    }

    @Override
    public void softmaxCrossEntropy(Tensor logits, int[] targets, double[] out) {
        cpu.softmaxCrossEntropy(logits, targets, out);
    }

    @Override
    public void forEachTask(int count, IntConsumer task) {
        cpu.forEachTask(count, task);
    }

    @Override
    public MemorySegment shareable(MemorySegment segment) {
        return cpu.shareable(segment);
    }

    /** Device bytes this backend holds (in use or pooled). */
    public synchronized long deviceBytes() {
        return pool.allocatedBytes();
    }

    @Override
    public synchronized void close() {
        host.driver.setCurrent(context);
        host.driver.synchronize(stream);
        cusolver.close();
        cublas.close();
        pool.release(workspace);
        pool.close();
        host.driver.destroyStream(stream);
        host.driver.releasePrimaryContext(device);
        cpu.close();
    }

    /**
     * Best wall time in seconds of {@code repetitions} square products {@code C = A B} (n x n, inputs as {@code in},
     * f32 output and accumulation) on matrices already in device memory, after {@code warmups} untimed ones: the
     * rate of {@code cublasGemmEx} itself, without the host copies that {@link #gemm} makes (for the GEMM benchmark).
     */
    public synchronized double residentGemmSeconds(DType in, int n, int warmups, int repetitions) {
        int type = in == DType.BF16 ? Cublas.R_16BF : in == DType.F16 ? Cublas.R_16F : Cublas.R_32F;
        try (Call call = enter();
                Arena arena = Arena.ofConfined()) {
            Tensor a = Tensor.allocate(arena, DType.F32, n, n);
            SplittableRandom random = new SplittableRandom(n);
            for (long i = 0; i < (long) n * n; i++) {
                a.data().setAtIndex(JAVA_FLOAT, i, (float) random.nextDouble(-1, 1));
            }
            Dev da = call.in(a, in);
            Dev db = call.in(a, in);
            Dev dc = call.out(Tensor.allocate(arena, DType.F32, n, n), DType.F32);
            Runnable product = () -> cublas.gemm(
                    Cublas.OP_N, Cublas.OP_N, n, n, n, 1f, db.pointer, type, n, da.pointer, type, n, 0f, dc.pointer, n);
            for (int i = 0; i < warmups; i++) {
                product.run();
            }
            host.driver.synchronize(stream);
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < repetitions; i++) {
                long start = System.nanoTime();
                product.run();
                host.driver.synchronize(stream);
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
            }
            return best;
        }
    }

    private static boolean sameData(Tensor a, Tensor b) {
        return a.data().address() == b.data().address() && a.dtype() == b.dtype() && a.rowStride() == b.rowStride();
    }

    private Call enter() {
        host.driver.setCurrent(context);
        return new Call();
    }

    /**
     * A tensor on the device: its data at {@code pointer}, {@code rows} rows of {@code cols} elements {@code ld} apart
     * (a tensor of another rank is one row), as {@code dtype}; {@code direct} when it holds the host tensor's own
     * bytes (the span of its rows), so that copying back is one copy of that span.
     */
    private record Dev(long pointer, int rows, int cols, int ld, DType dtype, boolean direct) {}

    /** The device buffers and host staging of one call, released when it ends. */
    private final class Call implements AutoCloseable {
        private final List<DevicePool.Buffer> buffers = new ArrayList<>();
        private final Arena staging = Arena.ofConfined();

        /** {@code t} copied to the device as {@code dtype}. */
        Dev in(Tensor t, DType dtype) {
            return place(t, dtype, true);
        }

        /** Room for {@code t} as {@code dtype}, its contents copied only where a view's span needs them. */
        Dev out(Tensor t, DType dtype) {
            return place(t, dtype, false);
        }

        private Dev place(Tensor t, DType dtype, boolean copy) {
            boolean matrix = t.rank() == 2;
            int rows = matrix ? t.rows() : 1;
            int cols = matrix ? t.cols() : (int) t.numel();
            if (t.dtype() == dtype) {
                long ld = matrix ? t.rowStride() : cols;
                long bytes = (rows == 0 ? 0 : (rows - 1) * ld + cols) * dtype.byteSize();
                long p = scratch(bytes);
                if ((copy || !t.isContiguous()) && bytes > 0) {
                    host.driver.copyToDevice(p, t.data(), bytes, stream);
                }
                return new Dev(p, rows, cols, (int) ld, dtype, true);
            }
            long bytes = (long) rows * cols * dtype.byteSize();
            long p = scratch(bytes);
            if (copy && bytes > 0) {
                Tensor staged = t.copyAs(staging, dtype);
                host.driver.copyToDevice(p, staged.data(), bytes, stream);
            }
            return new Dev(p, rows, cols, cols, dtype, false);
        }

        /** Copies {@code d} back into {@code t} (converting when its dtype differs) once the device is done. */
        void back(Dev d, Tensor t) {
            long span = (d.rows == 0 ? 0 : (long) (d.rows - 1) * d.ld + d.cols) * d.dtype.byteSize();
            if (span == 0) {
                return;
            }
            if (d.direct) {
                host.driver.copyToHost(t.data(), d.pointer, span, stream);
                host.driver.synchronize(stream);
                return;
            }
            Tensor staged = Tensor.allocate(staging, d.dtype, t.shape());
            host.driver.copyToHost(staged.data(), d.pointer, span, stream);
            host.driver.synchronize(stream);
            staged.copyInto(t);
        }

        /** Device memory of {@code bytes} bytes for this call. */
        long scratch(long bytes) {
            DevicePool.Buffer b = pool.acquire(bytes);
            buffers.add(b);
            return b.pointer();
        }

        /** The int at {@code pointer} once the device is done. */
        int readInt(long pointer) {
            MemorySegment v = staging.allocate(JAVA_INT);
            host.driver.copyToHost(v, pointer, 4, stream);
            host.driver.synchronize(stream);
            return v.get(JAVA_INT, 0);
        }

        @Override
        public void close() {
            host.driver.synchronize(stream); // no buffer goes back to the pool while a kernel may still use it
            buffers.forEach(pool::release);
            staging.close();
        }
    }
}
