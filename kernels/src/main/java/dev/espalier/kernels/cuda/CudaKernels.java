package dev.espalier.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The kernels of {@code espalier_kernels.cu}, compiled by NVRTC for one device's architecture (the newest virtual
 * architecture NVRTC supports that does not exceed the device's compute capability) and loaded into its context.
 * Launches are synchronous with respect to the stream they are queued on; arguments are boxed Java values
 * ({@code Long} for device pointers and {@code long long}, {@code Integer}, {@code Float}, {@code Double}).
 */
final class CudaKernels {
    /** The source's kernels; threads per block, as the source's BLOCK. */
    static final int BLOCK = 256;

    enum Kernel {
        RMS_NORM("rms_norm"),
        ROPE("rope"),
        CAUSAL_SOFTMAX("causal_softmax"),
        SILU_MUL("silu_mul"),
        ADD("add"),
        ADD_ROW_VECTOR("add_row_vector"),
        MUL_ROW_VECTOR("mul_row_vector"),
        MIRROR_UPPER_F32("mirror_upper_f32"),
        MIRROR_UPPER_F64("mirror_upper_f64"),
        ZERO_UPPER_F32("zero_upper_f32"),
        ZERO_UPPER_F64("zero_upper_f64"),
        TRANSPOSE_F64("transpose_f64"),
        WIDEN_F32_F64("widen_f32_f64");

        final String symbol;

        Kernel(String symbol) {
            this.symbol = symbol;
        }
    }

    private static final String RESOURCE = "espalier_kernels.cu";

    private final CudaDriver driver;
    private final Map<Kernel, MemorySegment> functions = new EnumMap<>(Kernel.class);

    private CudaKernels(CudaDriver driver, MemorySegment module) {
        this.driver = driver;
        for (Kernel k : Kernel.values()) {
            functions.put(k, driver.function(module, k.symbol));
        }
    }

    /** Compiles the kernels for a device of compute capability {@code capability} and loads them (context current). */
    static CudaKernels load(CudaDriver driver, Nvrtc nvrtc, int capability) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ptx = compile(nvrtc, architectureFor(nvrtc.supportedArchitectures(), capability), arena);
            return new CudaKernels(driver, driver.loadModule(ptx));
        }
    }

    /** The PTX of the kernels for {@code compute_<arch>}. */
    static MemorySegment compile(Nvrtc nvrtc, int arch, Arena arena) {
        return nvrtc.compile(source(), RESOURCE, arch, arena);
    }

    /** The newest of {@code supported} not above {@code capability}; IllegalStateException when none is. */
    static int architectureFor(List<Integer> supported, int capability) {
        return supported.stream()
                .filter(a -> a <= capability)
                .max(Integer::compare)
                .orElseThrow(() -> new CudaUnavailableException("a device of compute capability " + capability / 10
                        + "." + capability % 10 + " is older than this NVRTC supports (" + supported + ")"));
    }

    static String source() {
        try (InputStream in = CudaKernels.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the kernels jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Queues {@code kernel} on {@code stream} over a (gridX, gridY) grid of {@link #BLOCK}-thread blocks. */
    void launch(Kernel kernel, int gridX, int gridY, MemorySegment stream, Object... args) {
        if (gridX == 0 || gridY == 0) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(ADDRESS, args.length);
            for (int i = 0; i < args.length; i++) {
                MemorySegment value = switch (args[i]) {
                    case Long l -> a.allocateFrom(JAVA_LONG, l);
                    case Integer n -> a.allocateFrom(JAVA_INT, n);
                    case Float f -> a.allocateFrom(JAVA_FLOAT, f);
                    case Double d -> a.allocateFrom(JAVA_DOUBLE, d);
                    default -> throw new IllegalArgumentException("kernel argument of type " + args[i].getClass());
                };
                params.setAtIndex(ADDRESS, i, value);
            }
            driver.launch(functions.get(kernel), gridX, gridY, BLOCK, 0, stream, params, kernel.symbol);
        }
    }
}
