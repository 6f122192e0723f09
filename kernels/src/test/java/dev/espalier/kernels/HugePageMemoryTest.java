package dev.espalier.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Large allocations on mappings of their own: zeroed, aligned, usable, and unmapped when their arena closes. */
class HugePageMemoryTest {
    private static final long LARGE = HugePageMemory.THRESHOLD + 12345;

    @Test
    void aLargeAllocationIsZeroAlignedWritableAndDiesWithItsArena() {
        MemorySegment kept;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = HugePageMemory.allocate(arena, LARGE);
            assertEquals(LARGE, s.byteSize());
            assertEquals(0, s.address() % 64, "64-byte aligned");
            for (long at = 0; at < LARGE; at += 4093) {
                assertEquals(0, s.get(ValueLayout.JAVA_BYTE, at), "zero at byte " + at);
            }
            assertEquals(0, s.get(ValueLayout.JAVA_BYTE, LARGE - 1));
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, LARGE - 8, 0x0123456789abcdefL);
            assertEquals(0x0123456789abcdefL, s.get(ValueLayout.JAVA_LONG_UNALIGNED, LARGE - 8));
            kept = s;
        }
        MemorySegment closed = kept;
        assertFalse(closed.scope().isAlive());
        assertThrows(IllegalStateException.class, () -> closed.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void closedArenasGiveTheirMappingsBack() throws IOException {
        assumeTrue(HugePageMemory.mapsLargeAllocations(), "large allocations are mapped on Linux only");
        long before = virtualBytes();
        int cycles = 50;
        for (int i = 0; i < cycles; i++) {
            try (Arena arena = Arena.ofConfined()) {
                HugePageMemory.allocate(arena, LARGE).set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            }
        }
        long grown = virtualBytes() - before; // a leak would add cycles · LARGE (1.6 GiB)
        assertTrue(grown < cycles * LARGE / 4, "the address space grew by " + grown + " bytes");
    }

    @Test
    void smallAllocationsAreTheArenasOwn() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = HugePageMemory.allocate(arena, 1000);
            assertEquals(1000, s.byteSize());
            assertEquals(0, s.address() % 64);
            assertEquals(0, s.get(ValueLayout.JAVA_BYTE, 999));
        }
    }

    @Test
    void tensorsOfLargeShapesAreZero() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, DType.F32, 3000, 3000); // 36 MB
            assertEquals(0.0, t.get(2999, 2999));
            t.set(1234, 2345, 1.5);
            assertEquals(1.5, t.get(1234, 2345));
        }
    }

    /** VmSize of this process, from /proc/self/status. */
    private static long virtualBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmSize:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmSize in /proc/self/status");
    }
}
