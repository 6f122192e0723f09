package dev.espalier.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * cuSOLVER's dense solvers bound through FFM, column-major: Cholesky ({@code potrf}, f32 and f64) and the symmetric
 * eigendecomposition ({@code syevd}, f64). Workspaces come from the caller's device memory; {@code info} is read back
 * and returned.
 */
final class Cusolver implements AutoCloseable {
    static final int EIG_MODE_VECTOR = 1;

    private final MethodHandle destroy;
    private final MethodHandle spotrfBufferSize;
    private final MethodHandle dpotrfBufferSize;
    private final MethodHandle spotrf;
    private final MethodHandle dpotrf;
    private final MethodHandle dsyevdBufferSize;
    private final MethodHandle dsyevd;
    private final MemorySegment handle;

    private Cusolver(NativeLibrary lib, MemorySegment stream) {
        MethodHandle create = lib.function("cusolverDnCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setStream = lib.function("cusolverDnSetStream", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        destroy = lib.function("cusolverDnDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        FunctionDescriptor potrfSize =
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        spotrfBufferSize = lib.function("cusolverDnSpotrf_bufferSize", potrfSize);
        dpotrfBufferSize = lib.function("cusolverDnDpotrf_bufferSize", potrfSize);
        FunctionDescriptor potrf = FunctionDescriptor.of(
                JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        spotrf = lib.function("cusolverDnSpotrf", potrf);
        dpotrf = lib.function("cusolverDnDpotrf", potrf);
        dsyevdBufferSize = lib.function(
                "cusolverDnDsyevd_bufferSize",
                FunctionDescriptor.of(
                        JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        dsyevd = lib.function(
                "cusolverDnDsyevd",
                FunctionDescriptor.of(
                        JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT,
                        ADDRESS));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check(call(create, h), "cusolverDnCreate");
            handle = h.get(ADDRESS, 0);
        }
        check(call(setStream, handle, stream), "cusolverDnSetStream");
    }

    static Cusolver create(NativeLibrary lib, MemorySegment stream) {
        return new Cusolver(lib, stream);
    }

    /** Workspace elements {@code potrf} needs for an (n, n) matrix. */
    int potrfWorkspace(boolean f64, int uplo, int n, long a) {
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment lwork = ar.allocate(JAVA_INT);
            check(
                    call(f64 ? dpotrfBufferSize : spotrfBufferSize, handle, uplo, n, Cublas.ptr(a), n, lwork),
                    "cusolverDnXpotrf_bufferSize");
            return lwork.get(JAVA_INT, 0);
        }
    }

    /** Queues the Cholesky factorisation of the {@code uplo} triangle of A (n, n) in place; info goes to {@code info}. */
    void potrf(boolean f64, int uplo, int n, long a, long work, int lwork, long info) {
        check(
                call(
                        f64 ? dpotrf : spotrf,
                        handle,
                        uplo,
                        n,
                        Cublas.ptr(a),
                        n,
                        Cublas.ptr(work),
                        lwork,
                        Cublas.ptr(info)),
                "cusolverDnXpotrf(" + n + ")");
    }

    int syevdWorkspace(int uplo, int n, long a, long w) {
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment lwork = ar.allocate(JAVA_INT);
            check(
                    call(dsyevdBufferSize, handle, EIG_MODE_VECTOR, uplo, n, Cublas.ptr(a), n, Cublas.ptr(w), lwork),
                    "cusolverDnDsyevd_bufferSize");
            return lwork.get(JAVA_INT, 0);
        }
    }

    /** Queues the eigendecomposition of the {@code uplo} triangle of A (n, n): vectors in A, ascending values in w. */
    void syevd(int uplo, int n, long a, long w, long work, int lwork, long info) {
        check(
                call(
                        dsyevd,
                        handle,
                        EIG_MODE_VECTOR,
                        uplo,
                        n,
                        Cublas.ptr(a),
                        n,
                        Cublas.ptr(w),
                        Cublas.ptr(work),
                        lwork,
                        Cublas.ptr(info)),
                "cusolverDnDsyevd(" + n + ")");
    }

    @Override
    public void close() {
        call(destroy, handle);
    }

    private static void check(int status, String call) {
        if (status != 0) {
            throw new CudaException(call, status, "CUSOLVER_STATUS_" + status);
        }
    }

    private static int call(MethodHandle h, Object... args) {
        return (int) NativeLibrary.invoke(h, args);
    }
}
