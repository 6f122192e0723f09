package dev.espalier.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The CUDA driver API ({@code libcuda.so.1}) bound through FFM: initialisation, devices and their primary contexts,
 * streams, plain device allocations ({@code cuMemAlloc}; never managed memory), copies, modules and kernel launches.
 * Every call that returns an error status throws {@link CudaException} with the status's name. Device pointers are
 * {@code long}s ({@code CUdeviceptr}).
 */
public final class CudaDriver {
    /** CUresult codes that get their own explanation. */
    static final int CUDA_ERROR_STUB_LIBRARY = 34;

    static final int CUDA_ERROR_INSUFFICIENT_DRIVER = 35;
    static final int CUDA_ERROR_NO_DEVICE = 100;
    /** CUdevice_attribute values. */
    static final int ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;

    static final int ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    private static final FunctionDescriptor STATUS_OF_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    private static final FunctionDescriptor STATUS_OF_ADDRESS = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor STATUS_OF_LONG = FunctionDescriptor.of(JAVA_INT, JAVA_LONG);

    private final NativeLibrary lib;
    private final MethodHandle cuInit;
    private final MethodHandle cuDriverGetVersion;
    private final MethodHandle cuDeviceGetCount;
    private final MethodHandle cuDeviceGet;
    private final MethodHandle cuDeviceGetName;
    private final MethodHandle cuDeviceTotalMem;
    private final MethodHandle cuDeviceGetAttribute;
    private final MethodHandle cuDevicePrimaryCtxRetain;
    private final MethodHandle cuDevicePrimaryCtxRelease;
    private final MethodHandle cuCtxSetCurrent;
    private final MethodHandle cuStreamCreate;
    private final MethodHandle cuStreamSynchronize;
    private final MethodHandle cuStreamDestroy;
    private final MethodHandle cuMemAlloc;
    private final MethodHandle cuMemFree;
    private final MethodHandle cuMemcpyHtoDAsync;
    private final MethodHandle cuMemcpyDtoHAsync;
    private final MethodHandle cuMemsetD8Async;
    private final MethodHandle cuModuleLoadData;
    private final MethodHandle cuModuleGetFunction;
    private final MethodHandle cuLaunchKernel;
    private final MethodHandle cuGetErrorName;
    private final MethodHandle cuGetErrorString;

    private CudaDriver(NativeLibrary lib) {
        this.lib = lib;
        cuGetErrorName = lib.function("cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        cuGetErrorString = lib.function("cuGetErrorString", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        cuInit = lib.function("cuInit", STATUS_OF_INT);
        cuDriverGetVersion = lib.function("cuDriverGetVersion", STATUS_OF_ADDRESS);
        cuDeviceGetCount = lib.function("cuDeviceGetCount", STATUS_OF_ADDRESS);
        cuDeviceGet = lib.function("cuDeviceGet", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDeviceGetName = lib.function("cuDeviceGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceTotalMem = lib.function("cuDeviceTotalMem_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDeviceGetAttribute =
                lib.function("cuDeviceGetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuDevicePrimaryCtxRetain =
                lib.function("cuDevicePrimaryCtxRetain", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDevicePrimaryCtxRelease = lib.function("cuDevicePrimaryCtxRelease_v2", STATUS_OF_INT);
        cuCtxSetCurrent = lib.function("cuCtxSetCurrent", STATUS_OF_ADDRESS);
        cuStreamCreate = lib.function("cuStreamCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuStreamSynchronize = lib.function("cuStreamSynchronize", STATUS_OF_ADDRESS);
        cuStreamDestroy = lib.function("cuStreamDestroy_v2", STATUS_OF_ADDRESS);
        cuMemAlloc = lib.function("cuMemAlloc_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        cuMemFree = lib.function("cuMemFree_v2", STATUS_OF_LONG);
        cuMemcpyHtoDAsync = lib.function(
                "cuMemcpyHtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
        cuMemcpyDtoHAsync = lib.function(
                "cuMemcpyDtoHAsync_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
        cuMemsetD8Async = lib.function(
                "cuMemsetD8Async", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_BYTE, JAVA_LONG, ADDRESS));
        cuModuleLoadData = lib.function("cuModuleLoadData", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuModuleGetFunction =
                lib.function("cuModuleGetFunction", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        cuLaunchKernel = lib.function(
                "cuLaunchKernel",
                FunctionDescriptor.of(
                        JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                        ADDRESS, ADDRESS, ADDRESS));
    }

    /**
     * Loads the driver and initialises it; CudaUnavailableException with the reason when the library is missing,
     * is a stub, is older than what the toolkit libraries need, or sees no device.
     */
    public static CudaDriver start(CudaLibrarySearch search) {
        CudaDriver driver = new CudaDriver(NativeLibrary.load(search, CudaLibrary.DRIVER));
        int status = driver.callInt(driver.cuInit, 0);
        if (status != 0) {
            String why = switch (status) {
                case CUDA_ERROR_NO_DEVICE ->
                    "no CUDA-capable device is visible (check nvidia-smi and " + "CUDA_VISIBLE_DEVICES)";
                case CUDA_ERROR_STUB_LIBRARY -> "it is the toolkit's link stub, not the NVIDIA driver";
                case CUDA_ERROR_INSUFFICIENT_DRIVER -> "the NVIDIA driver is too old for this CUDA version";
                default -> driver.describe(status);
            };
            throw new CudaUnavailableException("the CUDA driver at " + driver.lib.file()
                    + " did not start: cuInit returned " + driver.errorName(status) + ": " + why);
        }
        return driver;
    }

    /** The driver's CUDA version, e.g. 13000 for 13.0. */
    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(callInt(cuDriverGetVersion, v), "cuDriverGetVersion");
            return v.get(JAVA_INT, 0);
        }
    }

    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check(callInt(cuDeviceGetCount, n), "cuDeviceGetCount");
            return n.get(JAVA_INT, 0);
        }
    }

    /** The CUdevice of ordinal {@code ordinal}. */
    public int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment d = a.allocate(JAVA_INT);
            check(callInt(cuDeviceGet, d, ordinal), "cuDeviceGet(" + ordinal + ")");
            return d.get(JAVA_INT, 0);
        }
    }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment name = a.allocate(256);
            check(callInt(cuDeviceGetName, name, 256, device), "cuDeviceGetName");
            return name.getString(0);
        }
    }

    public long totalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bytes = a.allocate(JAVA_LONG);
            check(callInt(cuDeviceTotalMem, bytes, device), "cuDeviceTotalMem");
            return bytes.get(JAVA_LONG, 0);
        }
    }

    /** The compute capability as major * 10 + minor, e.g. 90 for an H100. */
    public int computeCapability(int device) {
        return attribute(device, ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) * 10
                + attribute(device, ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    }

    private int attribute(int device, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(callInt(cuDeviceGetAttribute, v, attribute, device), "cuDeviceGetAttribute(" + attribute + ")");
            return v.get(JAVA_INT, 0);
        }
    }

    /** The device's primary context, retained (release with {@link #releasePrimaryContext}). */
    public MemorySegment retainPrimaryContext(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ctx = a.allocate(ADDRESS);
            check(callInt(cuDevicePrimaryCtxRetain, ctx, device), "cuDevicePrimaryCtxRetain");
            return ctx.get(ADDRESS, 0);
        }
    }

    public void releasePrimaryContext(int device) {
        check(callInt(cuDevicePrimaryCtxRelease, device), "cuDevicePrimaryCtxRelease");
    }

    /** Makes {@code context} current on the calling thread (every thread that calls the GPU must). */
    public void setCurrent(MemorySegment context) {
        check(callInt(cuCtxSetCurrent, context), "cuCtxSetCurrent");
    }

    public MemorySegment createStream() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(ADDRESS);
            check(callInt(cuStreamCreate, s, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
            return s.get(ADDRESS, 0);
        }
    }

    public void synchronize(MemorySegment stream) {
        check(callInt(cuStreamSynchronize, stream), "cuStreamSynchronize");
    }

    public void destroyStream(MemorySegment stream) {
        check(callInt(cuStreamDestroy, stream), "cuStreamDestroy");
    }

    /** A plain device allocation of {@code bytes} bytes. */
    public long allocate(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check(callInt(cuMemAlloc, p, bytes), "cuMemAlloc(" + bytes + " bytes)");
            return p.get(JAVA_LONG, 0);
        }
    }

    public void free(long pointer) {
        check(callInt(cuMemFree, pointer), "cuMemFree");
    }

    public void copyToDevice(long device, MemorySegment host, long bytes, MemorySegment stream) {
        check(callInt(cuMemcpyHtoDAsync, device, host, bytes, stream), "cuMemcpyHtoDAsync(" + bytes + " bytes)");
    }

    public void copyToHost(MemorySegment host, long device, long bytes, MemorySegment stream) {
        check(callInt(cuMemcpyDtoHAsync, host, device, bytes, stream), "cuMemcpyDtoHAsync(" + bytes + " bytes)");
    }

    public void zero(long device, long bytes, MemorySegment stream) {
        check(callInt(cuMemsetD8Async, device, (byte) 0, bytes, stream), "cuMemsetD8Async");
    }

    /** Loads a PTX or cubin image ({@code image}, NUL-terminated PTX) into the current context. */
    public MemorySegment loadModule(MemorySegment image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(ADDRESS);
            check(callInt(cuModuleLoadData, m, image), "cuModuleLoadData");
            return m.get(ADDRESS, 0);
        }
    }

    public MemorySegment function(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(ADDRESS);
            check(callInt(cuModuleGetFunction, f, module, a.allocateFrom(name)), "cuModuleGetFunction(" + name + ")");
            return f.get(ADDRESS, 0);
        }
    }

    /** Launches {@code function} on {@code stream}; {@code params} points to an array of pointers to the arguments. */
    public void launch(
            MemorySegment function,
            int gridX,
            int gridY,
            int blockX,
            int sharedBytes,
            MemorySegment stream,
            MemorySegment params,
            String name) {
        check(
                callInt(
                        cuLaunchKernel,
                        function,
                        gridX,
                        gridY,
                        1,
                        blockX,
                        1,
                        1,
                        sharedBytes,
                        stream,
                        params,
                        MemorySegment.NULL),
                "cuLaunchKernel(" + name + ")");
    }

    void check(int status, String call) {
        if (status != 0) {
            throw new CudaException(call, status, errorName(status) + ": " + describe(status));
        }
    }

    String errorName(int status) {
        return message(cuGetErrorName, status, "CUDA_ERROR_" + status);
    }

    private String describe(int status) {
        return message(cuGetErrorString, status, "unknown error");
    }

    private String message(MethodHandle lookup, int status, String fallback) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment text = a.allocate(ADDRESS);
            if (callInt(lookup, status, text) != 0) {
                return fallback;
            }
            MemorySegment p = text.get(ADDRESS, 0);
            return p.equals(MemorySegment.NULL) ? fallback : p.reinterpret(4096).getString(0);
        }
    }

    private static int callInt(MethodHandle h, Object... args) {
        return (int) NativeLibrary.invoke(h, args);
    }
}
