package dev.espalier.kernels.cpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * OpenBLAS 0.3.31 with LAPACKE, bound through the FFM API (no JNI). The libraries come from the
 * {@code org.bytedeco:openblas:0.3.31-1.5.13:linux-x86_64} jar: they are extracted once to a per-user cache folder
 * ({@link NativeLibraryCache}) and loaded in dependency order (libgcc_s, libquadmath, libgfortran, libopenblas) into
 * the global arena, so they stay loaded for the life of the JVM.
 *
 * <p>All matrices are passed in row-major order ({@code CblasRowMajor}) with their row stride as leading dimension,
 * except where a method says otherwise. Segments must be native (off-heap or mapped).
 *
 * <p>The library is set to one thread when it loads: its own threading changes the rounding of results with the
 * thread count, so the CPU backend parallelises over blocks of the output instead ({@link BlasBlocks}). The thread
 * count is process-wide; {@link #setThreads} exists for benchmarks of OpenBLAS's own threading, which must set it
 * back to 1.
 */
@SuppressWarnings("restricted") // native downcalls are the point of this class; the JVM runs with native access
public final class OpenBlas {
    /** Version of the bytedeco artifact whose natives are loaded. */
    public static final String VERSION = "0.3.31-1.5.13";

    static final int ROW_MAJOR = 101;
    static final int NO_TRANS = 111;
    static final int TRANS = 112;
    static final int LOWER = 122;
    static final int NON_UNIT = 131;
    static final int LEFT = 141;
    static final int RIGHT = 142;
    /** LAPACK_COL_MAJOR (the same value as CblasColMajor). */
    static final int LAPACK_COL_MAJOR = 102;

    private static final String RESOURCE_DIR = "org/bytedeco/openblas/linux-x86_64/";
    /** In load order: each library's dependencies come before it. */
    private static final String[] LIBRARIES = {
        "libgcc_s.so.1", "libquadmath.so.0", "libgfortran.so.5", "libopenblas.so.0"
    };

    private static final System.Logger LOG = System.getLogger(OpenBlas.class.getName());

    private final MethodHandle sgemm;
    private final MethodHandle dgemm;
    private final MethodHandle ssyrk;
    private final MethodHandle dsyrk;
    private final MethodHandle strsm;
    private final MethodHandle dtrsm;
    private final MethodHandle spotrf;
    private final MethodHandle dpotrf;
    private final MethodHandle dsyevd;
    private final MethodHandle setNumThreads;
    private final MethodHandle getConfig;
    private final boolean sgemmRowBlocksExact;
    private final Path folder;
    private volatile int threads = -1;

    private OpenBlas(SymbolLookup lookup, Path folder) {
        this.folder = folder;
        Linker linker = Linker.nativeLinker();
        FunctionDescriptor gemmF = FunctionDescriptor.ofVoid(
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_FLOAT,
                ADDRESS,
                JAVA_INT,
                ADDRESS,
                JAVA_INT,
                JAVA_FLOAT,
                ADDRESS,
                JAVA_INT);
        FunctionDescriptor gemmD = FunctionDescriptor.ofVoid(
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_DOUBLE,
                ADDRESS,
                JAVA_INT,
                ADDRESS,
                JAVA_INT,
                JAVA_DOUBLE,
                ADDRESS,
                JAVA_INT);
        FunctionDescriptor syrkF = FunctionDescriptor.ofVoid(
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_FLOAT,
                ADDRESS,
                JAVA_INT,
                JAVA_FLOAT,
                ADDRESS,
                JAVA_INT);
        FunctionDescriptor syrkD = FunctionDescriptor.ofVoid(
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_DOUBLE,
                ADDRESS,
                JAVA_INT,
                JAVA_DOUBLE,
                ADDRESS,
                JAVA_INT);
        FunctionDescriptor trsmF = FunctionDescriptor.ofVoid(
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_FLOAT,
                ADDRESS,
                JAVA_INT,
                ADDRESS,
                JAVA_INT);
        FunctionDescriptor trsmD = FunctionDescriptor.ofVoid(
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_INT,
                JAVA_DOUBLE,
                ADDRESS,
                JAVA_INT,
                ADDRESS,
                JAVA_INT);
        FunctionDescriptor potrf = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_BYTE, JAVA_INT, ADDRESS, JAVA_INT);
        FunctionDescriptor syevd =
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_BYTE, JAVA_BYTE, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        sgemm = handle(linker, lookup, "cblas_sgemm", gemmF);
        dgemm = handle(linker, lookup, "cblas_dgemm", gemmD);
        ssyrk = handle(linker, lookup, "cblas_ssyrk", syrkF);
        dsyrk = handle(linker, lookup, "cblas_dsyrk", syrkD);
        strsm = handle(linker, lookup, "cblas_strsm", trsmF);
        dtrsm = handle(linker, lookup, "cblas_dtrsm", trsmD);
        spotrf = handle(linker, lookup, "LAPACKE_spotrf", potrf);
        dpotrf = handle(linker, lookup, "LAPACKE_dpotrf", potrf);
        dsyevd = handle(linker, lookup, "LAPACKE_dsyevd", syevd);
        setNumThreads = linker.downcallHandle(
                lookup.find("openblas_set_num_threads").orElseThrow(),
                FunctionDescriptor.ofVoid(JAVA_INT),
                Linker.Option.critical(false));
        getConfig = handle(linker, lookup, "openblas_get_config", FunctionDescriptor.of(ADDRESS));
        String core = config().toLowerCase(Locale.ROOT);
        sgemmRowBlocksExact = core.contains("skylakex") || core.contains("cooperlake");
    }

    private static MethodHandle handle(Linker linker, SymbolLookup lookup, String symbol, FunctionDescriptor fd) {
        MemorySegment address = lookup.find(symbol)
                .orElseThrow(() -> new IllegalStateException("symbol " + symbol + " missing from libopenblas.so.0"));
        return linker.downcallHandle(address, fd);
    }

    private static final class Holder {
        static final OpenBlas INSTANCE = tryLoad();
    }

    /** The loaded library, or null when the natives cannot be loaded here (the reason is logged once). */
    public static OpenBlas get() {
        return Holder.INSTANCE;
    }

    /** Whether the natives loaded in this JVM. */
    public static boolean available() {
        return Holder.INSTANCE != null;
    }

    private static OpenBlas tryLoad() {
        try {
            Path folder = NativeLibraryCache.folder("openblas-" + VERSION);
            chooseCoreType();
            SymbolLookup last = null;
            for (String library : LIBRARIES) {
                Path path = NativeLibraryCache.extract(RESOURCE_DIR, library, folder);
                last = SymbolLookup.libraryLookup(path, Arena.global());
            }
            OpenBlas blas = new OpenBlas(last, folder);
            blas.setThreads(1);
            LOG.log(System.Logger.Level.DEBUG, () -> "loaded OpenBLAS from " + folder + ": " + blas.config());
            return blas;
        } catch (RuntimeException | LinkageError e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "OpenBLAS natives unavailable, the CPU backend uses its Vector API" + " kernels only: " + e);
            return null;
        }
    }

    /**
     * OpenBLAS 0.3.31's DYNAMIC_ARCH detection does not know AMD family 1Ah (Zen 5) and falls back to its AVX2
     * Haswell kernels, at about half the speed of its AVX-512 ones on these CPUs (upstream issue
     * OpenMathLib/OpenBLAS#6029, fixed after 0.3.31). When {@code OPENBLAS_CORETYPE} is unset and the CPU is such an
     * AMD part with AVX-512, this sets it (through libc {@code setenv}, before the library is loaded) to the core the
     * fixed detection picks: Cooperlake with AVX512-BF16, else SkylakeX. {@code -Despalier.openblas.coretype=NAME}
     * forces a core, {@code =none} leaves OpenBLAS's own detection alone.
     */
    private static void chooseCoreType() {
        String setting =
                System.getProperty("espalier.openblas.coretype", "auto").trim();
        if (setting.equals("none") || System.getenv("OPENBLAS_CORETYPE") != null) {
            return;
        }
        String core = setting.equals("auto") || setting.isEmpty() ? misdetectedCore() : setting;
        if (core == null) {
            return;
        }
        Linker linker = Linker.nativeLinker();
        MethodHandle setenv = linker.downcallHandle(
                linker.defaultLookup().find("setenv").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) setenv.invokeExact(arena.allocateFrom("OPENBLAS_CORETYPE"), arena.allocateFrom(core), 0);
            if (rc != 0) {
                LOG.log(System.Logger.Level.WARNING, "setenv(OPENBLAS_CORETYPE=" + core + ") failed");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The OpenBLAS core for an AMD CPU of family 1Ah or later with AVX-512, else null (from /proc/cpuinfo). */
    private static String misdetectedCore() {
        Map<String, String> cpu = new HashMap<>();
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            lines.takeWhile(line -> !line.isBlank()).forEach(line -> {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    cpu.put(
                            line.substring(0, colon).trim(),
                            line.substring(colon + 1).trim());
                }
            });
        } catch (IOException | UncheckedIOException e) {
            return null;
        }
        Set<String> flags = Set.of(cpu.getOrDefault("flags", "").split("\\s+"));
        int family;
        try {
            family = Integer.parseInt(cpu.getOrDefault("cpu family", "0"));
        } catch (NumberFormatException e) {
            return null;
        }
        boolean avx512 = flags.containsAll(List.of("avx512f", "avx512dq", "avx512bw", "avx512vl"));
        if (!"AuthenticAMD".equals(cpu.get("vendor_id")) || family < 0x1A || !avx512) {
            return null;
        }
        return flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX";
    }

    /** The folder the libraries were loaded from. */
    public Path folder() {
        return folder;
    }

    /** The build configuration string of OpenBLAS ({@code openblas_get_config}), e.g. its core and thread model. */
    public String config() {
        try {
            MemorySegment s = (MemorySegment) getConfig.invokeExact();
            return s.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Whether the core OpenBLAS selected at load time has AVX-512 GEMM kernels (from {@link #config()}). */
    public boolean hasAvx512Kernels() {
        String c = config().toLowerCase(Locale.ROOT);
        return c.contains("skylakex") || c.contains("cooperlake") || c.contains("sapphirerapids");
    }

    /**
     * Whether this core's packed sgemm kernels compute every element of c the same way whatever the number of rows of
     * c a call covers, so that row blocks of any height give the bytes of one call as long as every call stays on the
     * packed kernels ({@link BlasBlocks#PACKED_MIN_WORK}). Measured with OpenBLAS 0.3.31 ({@code BlasRowBlocksTest},
     * AMD EPYC with AVX-512): true of the SkylakeX and Cooperlake cores for heights from 8 to 2048 rows; not of the
     * Haswell core (blocks of 64, 128, 320 or 512 rows change the last bits, of 48, 96 or 192 rows do not). Other
     * cores are not measured and count as inexact.
     */
    public boolean sgemmRowBlocksExact() {
        return sgemmRowBlocksExact;
    }

    /** Sets the process-wide OpenBLAS thread count ({@code openblas_set_num_threads}) if it differs. */
    public void setThreads(int count) {
        if (threads == count) {
            return;
        }
        try {
            setNumThreads.invokeExact(count);
            threads = count;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cblas_sgemm} in row-major order: c = alpha op(a) op(b) + beta c, c (m, n). */
    public void sgemm(
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
        try {
            sgemm.invokeExact(
                    ROW_MAJOR,
                    transA ? TRANS : NO_TRANS,
                    transB ? TRANS : NO_TRANS,
                    m,
                    n,
                    k,
                    alpha,
                    a,
                    ld(lda),
                    b,
                    ld(ldb),
                    beta,
                    c,
                    ld(ldc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cblas_dgemm} in row-major order: c = alpha op(a) op(b) + beta c, c (m, n). */
    public void dgemm(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            double alpha,
            MemorySegment a,
            long lda,
            MemorySegment b,
            long ldb,
            double beta,
            MemorySegment c,
            long ldc) {
        try {
            dgemm.invokeExact(
                    ROW_MAJOR,
                    transA ? TRANS : NO_TRANS,
                    transB ? TRANS : NO_TRANS,
                    m,
                    n,
                    k,
                    alpha,
                    a,
                    ld(lda),
                    b,
                    ld(ldb),
                    beta,
                    c,
                    ld(ldc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code cblas_ssyrk} in row-major order on the lower triangle: c = alpha aᵀa + beta c with a (k, n)
     * ({@code trans}) or c = alpha a aᵀ + beta c with a (n, k); c (n, n), only its lower triangle is written.
     */
    public void ssyrkLower(
            boolean trans,
            int n,
            int k,
            float alpha,
            MemorySegment a,
            long lda,
            float beta,
            MemorySegment c,
            long ldc) {
        try {
            ssyrk.invokeExact(ROW_MAJOR, LOWER, trans ? TRANS : NO_TRANS, n, k, alpha, a, ld(lda), beta, c, ld(ldc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cblas_dsyrk}, as {@link #ssyrkLower} in f64. */
    public void dsyrkLower(
            boolean trans,
            int n,
            int k,
            double alpha,
            MemorySegment a,
            long lda,
            double beta,
            MemorySegment c,
            long ldc) {
        try {
            dsyrk.invokeExact(ROW_MAJOR, LOWER, trans ? TRANS : NO_TRANS, n, k, alpha, a, ld(lda), beta, c, ld(ldc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cblas_strsm}, row-major, from the left, lower triangular, non-unit: b ← op(l)⁻¹ b, b (n, m). */
    public void strsmLowerLeft(boolean trans, int n, int m, MemorySegment l, long ldl, MemorySegment b, long ldb) {
        try {
            strsm.invokeExact(
                    ROW_MAJOR, LEFT, LOWER, trans ? TRANS : NO_TRANS, NON_UNIT, n, m, 1f, l, ld(ldl), b, ld(ldb));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cblas_strsm}, row-major, from the right, lower triangular transposed, non-unit: b ← b · l⁻ᵀ, b (m, n). */
    public void strsmLowerTransRight(int m, int n, MemorySegment l, long ldl, MemorySegment b, long ldb) {
        try {
            strsm.invokeExact(ROW_MAJOR, RIGHT, LOWER, TRANS, NON_UNIT, m, n, 1f, l, ld(ldl), b, ld(ldb));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cblas_dtrsm}, as {@link #strsmLowerTransRight} in f64. */
    public void dtrsmLowerTransRight(int m, int n, MemorySegment l, long ldl, MemorySegment b, long ldb) {
        try {
            dtrsm.invokeExact(ROW_MAJOR, RIGHT, LOWER, TRANS, NON_UNIT, m, n, 1.0, l, ld(ldl), b, ld(ldb));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cblas_dtrsm}, as {@link #strsmLowerLeft} in f64. */
    public void dtrsmLowerLeft(boolean trans, int n, int m, MemorySegment l, long ldl, MemorySegment b, long ldb) {
        try {
            dtrsm.invokeExact(
                    ROW_MAJOR, LEFT, LOWER, trans ? TRANS : NO_TRANS, NON_UNIT, n, m, 1.0, l, ld(ldl), b, ld(ldb));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', n, a, lda)}: the upper triangle of a column-major matrix is the
     * lower triangle of the same memory read row-major, so this factors a row-major a = L Lᵀ into its lower triangle
     * (the strict upper triangle is left as it was). Returns LAPACK's info: 0, or j + 1 when minor j failed.
     */
    public int spotrfRowMajorLower(int n, MemorySegment a, long lda) {
        try {
            return (int) spotrf.invokeExact(LAPACK_COL_MAJOR, (byte) 'U', n, a, ld(lda));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code LAPACKE_dpotrf}, as {@link #spotrfRowMajorLower} in f64. */
    public int dpotrfRowMajorLower(int n, MemorySegment a, long lda) {
        try {
            return (int) dpotrf.invokeExact(LAPACK_COL_MAJOR, (byte) 'U', n, a, ld(lda));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', n, a, lda, w)} on a row-major buffer: reads the row-major
     * lower triangle (the column-major upper one), writes the eigenvalues ascending into w (n) and the eigenvectors
     * into a as its <em>rows</em> when read row-major (they are the columns of the column-major matrix).
     * Returns LAPACK's info (0 on success).
     */
    public int dsyevdRowMajorLowerVectorsAsRows(int n, MemorySegment a, long lda, MemorySegment w) {
        try {
            return (int) dsyevd.invokeExact(LAPACK_COL_MAJOR, (byte) 'V', (byte) 'U', n, a, ld(lda), w);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int ld(long leadingDimension) {
        long ld = Math.max(1, leadingDimension);
        if (ld > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("leading dimension " + leadingDimension + " exceeds a 32-bit BLAS int");
        }
        return (int) ld;
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("OpenBLAS call failed: " + t, t);
    }
}
