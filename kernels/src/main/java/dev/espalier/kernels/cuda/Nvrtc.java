package dev.espalier.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * NVRTC, the runtime compiler of CUDA C++ to PTX, bound through FFM. It needs no GPU: the kernels of {@link
 * CudaKernels} are compiled (and their compilation tested) on any host that has the library.
 */
public final class Nvrtc {
    private final MethodHandle version;
    private final MethodHandle numSupportedArchs;
    private final MethodHandle supportedArchs;
    private final MethodHandle createProgram;
    private final MethodHandle compileProgram;
    private final MethodHandle logSize;
    private final MethodHandle log;
    private final MethodHandle ptxSize;
    private final MethodHandle ptx;
    private final MethodHandle destroyProgram;
    private final MethodHandle errorString;

    private Nvrtc(NativeLibrary lib) {
        version = lib.function("nvrtcVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        numSupportedArchs = lib.function("nvrtcGetNumSupportedArchs", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        supportedArchs = lib.function("nvrtcGetSupportedArchs", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        createProgram = lib.function(
                "nvrtcCreateProgram",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        compileProgram =
                lib.function("nvrtcCompileProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        logSize = lib.function("nvrtcGetProgramLogSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        log = lib.function("nvrtcGetProgramLog", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        ptxSize = lib.function("nvrtcGetPTXSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        ptx = lib.function("nvrtcGetPTX", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        destroyProgram = lib.function("nvrtcDestroyProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        errorString = lib.function("nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    /** Loads NVRTC from where {@code search} finds it. */
    public static Nvrtc load(CudaLibrarySearch search) {
        return new Nvrtc(NativeLibrary.load(search, CudaLibrary.NVRTC));
    }

    /** "13.1". */
    public String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(JAVA_INT);
            MemorySegment minor = a.allocate(JAVA_INT);
            check((int) call(version, major, minor), "nvrtcVersion");
            return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
        }
    }

    /** The virtual architectures this NVRTC compiles for, ascending (75 for compute_75, …). */
    public List<Integer> supportedArchitectures() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check((int) call(numSupportedArchs, n), "nvrtcGetNumSupportedArchs");
            MemorySegment archs = a.allocate(JAVA_INT, n.get(JAVA_INT, 0));
            check((int) call(supportedArchs, archs), "nvrtcGetSupportedArchs");
            return java.util.Arrays.stream(archs.toArray(JAVA_INT)).boxed().toList();
        }
    }

    /**
     * Compiles {@code source} (named {@code name} in messages) for the virtual architecture {@code compute_<arch>}
     * and returns the PTX, NUL-terminated, in {@code arena}; a compile error is an IllegalStateException with the log.
     */
    public MemorySegment compile(String source, String name, int arch, Arena arena) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment program = a.allocate(ADDRESS);
            check(
                    (int) call(
                            createProgram,
                            program,
                            a.allocateFrom(source),
                            a.allocateFrom(name),
                            0,
                            MemorySegment.NULL,
                            MemorySegment.NULL),
                    "nvrtcCreateProgram");
            MemorySegment p = program.get(ADDRESS, 0);
            try {
                List<String> options = List.of("--gpu-architecture=compute_" + arch, "--std=c++17");
                MemorySegment optionArray = a.allocate(ADDRESS, options.size());
                for (int i = 0; i < options.size(); i++) {
                    optionArray.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
                }
                int status = (int) call(compileProgram, p, options.size(), optionArray);
                if (status != 0) {
                    throw new IllegalStateException("NVRTC could not compile " + name + " for compute_" + arch + ": "
                            + message(status) + "\n" + programLog(p, a));
                }
                MemorySegment size = a.allocate(JAVA_LONG);
                check((int) call(ptxSize, p, size), "nvrtcGetPTXSize");
                MemorySegment out = arena.allocate(size.get(JAVA_LONG, 0));
                check((int) call(ptx, p, out), "nvrtcGetPTX");
                return out;
            } finally {
                call(destroyProgram, program);
            }
        }
    }

    private String programLog(MemorySegment program, Arena a) {
        MemorySegment size = a.allocate(JAVA_LONG);
        if ((int) call(logSize, program, size) != 0) {
            return "(no log)";
        }
        MemorySegment text = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
        return (int) call(log, program, text) == 0 ? text.getString(0) : "(no log)";
    }

    private void check(int status, String call) {
        if (status != 0) {
            throw new CudaException(call, status, message(status));
        }
    }

    private String message(int status) {
        MemorySegment text = (MemorySegment) call(errorString, status);
        return text.equals(MemorySegment.NULL)
                ? "NVRTC_ERROR_" + status
                : text.reinterpret(1024).getString(0);
    }

    private static Object call(MethodHandle h, Object... args) {
        return NativeLibrary.invoke(h, args);
    }
}
