package dev.espalier.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * cuBLAS bound through FFM, column-major as the library is: {@code cublasGemmEx} with f32, bf16 or f16 inputs and f32
 * accumulation ({@code CUBLAS_COMPUTE_32F}, which uses no TF32), SYRK for Grams and TRSM, in f32 and f64. One handle per
 * device worker, on the worker's stream, with a fixed workspace so that the algorithms and so the results are the same
 * from run to run. Device pointers are {@code long}s.
 */
public final class Cublas implements AutoCloseable {
    static final int OP_N = 0;
    static final int OP_T = 1;
    static final int FILL_LOWER = 0;
    static final int FILL_UPPER = 1;
    static final int SIDE_LEFT = 0;
    static final int SIDE_RIGHT = 1;
    static final int DIAG_NON_UNIT = 0;
    /** cudaDataType values. */
    static final int R_32F = 0;

    static final int R_64F = 1;
    static final int R_16F = 2;
    static final int R_16BF = 14;
    static final int COMPUTE_32F = 68;
    static final int GEMM_DEFAULT = -1;
    /** The fixed workspace: what cuBLAS recommends for Hopper. */
    static final long WORKSPACE_BYTES = 32L << 20;

    private final MethodHandle destroy;
    private final MethodHandle gemmEx;
    private final MethodHandle ssyrk;
    private final MethodHandle dsyrk;
    private final MethodHandle strsm;
    private final MethodHandle dtrsm;
    private final MethodHandle statusString;
    private final MemorySegment handle;
    private final Arena scalars = Arena.ofShared();
    /** alpha and beta, reused by every call (a handle is used by one worker, one call at a time). */
    private final MemorySegment alpha32 = scalars.allocate(JAVA_FLOAT);

    private final MemorySegment beta32 = scalars.allocate(JAVA_FLOAT);
    private final MemorySegment alpha64 = scalars.allocate(JAVA_DOUBLE);
    private final MemorySegment beta64 = scalars.allocate(JAVA_DOUBLE);

    private Cublas(NativeLibrary lib, MemorySegment stream, long workspace) {
        MethodHandle create = lib.function("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setStream = lib.function("cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle setWorkspace =
                lib.function("cublasSetWorkspace_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        destroy = lib.function("cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        statusString = lib.function("cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        gemmEx = lib.function(
                "cublasGemmEx",
                FunctionDescriptor.of(
                        JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT,
                        JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                        JAVA_INT));
        FunctionDescriptor syrk = FunctionDescriptor.of(
                JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS,
                JAVA_INT);
        ssyrk = lib.function("cublasSsyrk_v2", syrk);
        dsyrk = lib.function("cublasDsyrk_v2", syrk);
        FunctionDescriptor trsm = FunctionDescriptor.of(
                JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS,
                JAVA_INT, ADDRESS, JAVA_INT);
        strsm = lib.function("cublasStrsm_v2", trsm);
        dtrsm = lib.function("cublasDtrsm_v2", trsm);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check(call(create, h), "cublasCreate");
            handle = h.get(ADDRESS, 0);
        }
        check(call(setStream, handle, stream), "cublasSetStream");
        check(call(setWorkspace, handle, MemorySegment.ofAddress(workspace), WORKSPACE_BYTES), "cublasSetWorkspace");
    }

    /** A handle on {@code stream} (the device's context current) using {@code workspace} ({@link #WORKSPACE_BYTES}). */
    static Cublas create(NativeLibrary lib, MemorySegment stream, long workspace) {
        return new Cublas(lib, stream, workspace);
    }

    /** Column-major {@code C = alpha op(A) op(B) + beta C}: op(A) (m, k), op(B) (k, n), C (m, n) f32. */
    void gemm(
            int opA,
            int opB,
            int m,
            int n,
            int k,
            float alpha,
            long a,
            int aType,
            int lda,
            long b,
            int bType,
            int ldb,
            float beta,
            long c,
            int ldc) {
        check(
                call(
                        gemmEx,
                        handle,
                        opA,
                        opB,
                        m,
                        n,
                        k,
                        set(alpha32, alpha),
                        ptr(a),
                        aType,
                        lda,
                        ptr(b),
                        bType,
                        ldb,
                        set(beta32, beta),
                        ptr(c),
                        R_32F,
                        ldc,
                        COMPUTE_32F,
                        GEMM_DEFAULT),
                "cublasGemmEx(" + m + "x" + n + "x" + k + ")");
    }

    /** Column-major {@code C = alpha op(A) op(A)ᵀ + beta C} on the {@code uplo} triangle of C (n, n). */
    void syrk(
            boolean f64, int uplo, int op, int n, int k, double alpha, long a, int lda, double beta, long c, int ldc) {
        check(
                call(
                        f64 ? dsyrk : ssyrk,
                        handle,
                        uplo,
                        op,
                        n,
                        k,
                        scalar(f64, true, alpha),
                        ptr(a),
                        lda,
                        scalar(f64, false, beta),
                        ptr(c),
                        ldc),
                "cublas" + (f64 ? "D" : "S") + "syrk");
    }

    /** Column-major triangular solve {@code op(A) X = alpha B} (left) or {@code X op(A) = alpha B} (right), in B. */
    void trsm(boolean f64, int side, int uplo, int op, int m, int n, long a, int lda, long b, int ldb) {
        check(
                call(
                        f64 ? dtrsm : strsm,
                        handle,
                        side,
                        uplo,
                        op,
                        DIAG_NON_UNIT,
                        m,
                        n,
                        scalar(f64, true, 1.0),
                        ptr(a),
                        lda,
                        ptr(b),
                        ldb),
                "cublas" + (f64 ? "D" : "S") + "trsm");
    }

    @Override
    public void close() {
        call(destroy, handle);
        scalars.close();
    }

    private static MemorySegment set(MemorySegment slot, float v) {
        slot.set(JAVA_FLOAT, 0, v);
        return slot;
    }

    private MemorySegment scalar(boolean f64, boolean first, double v) {
        if (f64) {
            MemorySegment slot = first ? alpha64 : beta64;
            slot.set(JAVA_DOUBLE, 0, v);
            return slot;
        }
        return set(first ? alpha32 : beta32, (float) v);
    }

    static MemorySegment ptr(long device) {
        return MemorySegment.ofAddress(device);
    }

    private void check(int status, String call) {
        if (status != 0) {
            MemorySegment text = (MemorySegment) NativeLibrary.invoke(statusString, status);
            throw new CudaException(
                    call,
                    status,
                    text.equals(MemorySegment.NULL)
                            ? "CUBLAS_STATUS_" + status
                            : text.reinterpret(1024).getString(0));
        }
    }

    private static int call(MethodHandle h, Object... args) {
        return (int) NativeLibrary.invoke(h, args);
    }
}
