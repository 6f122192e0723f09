package dev.espalier.kernels;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Large off-heap allocations on transparent huge pages. A layer's writable F32 copy of a 7B model is about 800 MB:
 * allocated by {@link Arena#allocate} it is zero-filled through 4 KiB pages, each a page fault on first touch, which on
 * a virtual machine costs about 3 s (measured: 809 MiB allocated and zeroed in 2.9–4.1 s against 0.06–0.09 s on huge
 * pages, on the 2-core AVX-512 machine, THP in {@code madvise} mode, the default of most distributions). So on Linux (x86-64 and AArch64) an allocation of
 * at least {@link #THRESHOLD} bytes is its own anonymous mapping, aligned to 2 MiB and advised
 * {@code MADV_HUGEPAGE}, zero as every fresh mapping is, and unmapped when its arena closes. Anywhere else, below the
 * threshold, or when the mapping fails, it is the arena's own allocation; the contents are zero either way.
 */
public final class HugePageMemory {
    /** Allocations of at least this many bytes get a mapping of their own (32 MiB). */
    public static final long THRESHOLD = 32L << 20;

    private static final long HUGE_PAGE = 2L << 20;
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final int MADV_HUGEPAGE = 14;
    private static final long MAP_FAILED = -1L;

    private static final MethodHandle MMAP; // void* mmap(void*, size_t, int, int, int, off_t), or null off Linux
    private static final MethodHandle MADVISE; // int madvise(void*, size_t, int)
    private static final MethodHandle MUNMAP; // int munmap(void*, size_t)

    static {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        boolean supported = os.startsWith("linux") && (arch.equals("amd64") || arch.equals("aarch64"));
        MethodHandle mmap = null;
        MethodHandle madvise = null;
        MethodHandle munmap = null;
        if (supported) {
            Linker linker = Linker.nativeLinker();
            var lookup = linker.defaultLookup();
            mmap = lookup.find("mmap")
                    .map(a -> linker.downcallHandle(
                            a,
                            FunctionDescriptor.of(
                                    JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG)))
                    .orElse(null);
            madvise = lookup.find("madvise")
                    .map(a -> linker.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT)))
                    .orElse(null);
            munmap = lookup.find("munmap")
                    .map(a -> linker.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG)))
                    .orElse(null);
        }
        boolean complete = mmap != null && madvise != null && munmap != null;
        MMAP = complete ? mmap : null;
        MADVISE = complete ? madvise : null;
        MUNMAP = complete ? munmap : null;
    }

    private HugePageMemory() {}

    /**
     * {@code bytes} of zeroed memory, 64-byte aligned (2 MiB for a mapping of its own), freed when {@code arena}
     * closes.
     */
    public static MemorySegment allocate(Arena arena, long bytes) {
        if (bytes < THRESHOLD || MMAP == null) {
            return arena.allocate(bytes, 64);
        }
        long length = roundUp(bytes, HUGE_PAGE) + HUGE_PAGE; // room to align the start to a huge page
        long address;
        try {
            address = (long) MMAP.invokeExact(0L, length, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("mmap of " + length + " bytes failed", t);
        }
        if (address == MAP_FAILED || address == 0) {
            return arena.allocate(bytes, 64);
        }
        long start = roundUp(address, HUGE_PAGE);
        try {
            int ignored = (int) MADVISE.invokeExact(start, roundUp(bytes, HUGE_PAGE), MADV_HUGEPAGE); // a hint only
        } catch (Throwable t) {
            unmap(address, length);
            throw new IllegalStateException("madvise failed", t);
        }
        return MemorySegment.ofAddress(start).reinterpret(bytes, arena, s -> unmap(address, length));
    }

    /** True where large allocations are mappings of their own (Linux on x86-64 or AArch64). */
    public static boolean mapsLargeAllocations() {
        return MMAP != null;
    }

    private static void unmap(long address, long length) {
        try {
            int rc = (int) MUNMAP.invokeExact(address, length);
            if (rc != 0) {
                throw new IllegalStateException(
                        "munmap of " + length + " bytes at 0x" + Long.toHexString(address) + " failed");
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static long roundUp(long value, long multiple) {
        return (value + multiple - 1) / multiple * multiple;
    }
}
