package dev.espalier.kernels.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Device memory of one GPU, allocated with {@code cuMemAlloc} in power-of-two size classes (at least 256 bytes) and
 * kept for reuse after release: the worker's calls allocate the same shapes over and over. When an allocation fails,
 * the free buffers are returned to the driver and it is tried once more. Not thread-safe: one worker owns it.
 */
final class DevicePool implements AutoCloseable {
    /** A device allocation of {@code capacity} bytes at {@code pointer}. */
    record Buffer(long pointer, long capacity) {}

    private final CudaDriver driver;
    private final Map<Long, ArrayDeque<Buffer>> free = new HashMap<>();
    private long allocatedBytes;

    DevicePool(CudaDriver driver) {
        this.driver = driver;
    }

    Buffer acquire(long bytes) {
        long capacity = Long.highestOneBit(Math.max(256, bytes) - 1) << 1;
        ArrayDeque<Buffer> list = free.get(capacity);
        if (list != null && !list.isEmpty()) {
            return list.pop();
        }
        long pointer;
        try {
            pointer = driver.allocate(capacity);
        } catch (CudaException e) {
            trim();
            pointer = driver.allocate(capacity);
        }
        allocatedBytes += capacity;
        return new Buffer(pointer, capacity);
    }

    void release(Buffer b) {
        free.computeIfAbsent(b.capacity(), c -> new ArrayDeque<>()).push(b);
    }

    /** Device bytes held, in use or free. */
    long allocatedBytes() {
        return allocatedBytes;
    }

    /** Returns the free buffers to the driver. */
    void trim() {
        for (ArrayDeque<Buffer> list : free.values()) {
            for (Buffer b : list) {
                driver.free(b.pointer());
                allocatedBytes -= b.capacity();
            }
            list.clear();
        }
    }

    @Override
    public void close() {
        trim();
    }
}
