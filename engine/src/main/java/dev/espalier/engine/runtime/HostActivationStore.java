package dev.espalier.engine.runtime;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The activation tensors resident on one host, by handle id. Each tensor is written once, by the device worker that
 * allocates it, and then only read (by any worker of the host: CPU workers share memory) until it is released.
 * Counts what it holds, and the peak, so tests can show that back-pressure bounds memory.
 */
public final class HostActivationStore implements AutoCloseable {
    private record Resident(Tensor tensor, Arena arena) {}

    private final ConcurrentHashMap<Long, Resident> tensors = new ConcurrentHashMap<>();
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicInteger peakHeld = new AtomicInteger();

    /** A new zeroed (rows, cols) F32 tensor under {@code ref}'s id. */
    public Tensor allocate(ActivationRef ref, int rows, int cols) {
        Arena arena = Arena.ofShared();
        Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
        if (tensors.putIfAbsent(ref.id(), new Resident(t, arena)) != null) {
            arena.close();
            throw new IllegalStateException("activation " + ref + " already exists");
        }
        peakHeld.accumulateAndGet(held.incrementAndGet(), Math::max);
        return t;
    }

    public Tensor get(ActivationRef ref) {
        Resident r = tensors.get(ref.id());
        if (r == null) {
            throw new IllegalStateException("activation " + ref + " is not resident");
        }
        return r.tensor();
    }

    public void release(ActivationRef ref) {
        Resident r = tensors.remove(ref.id());
        if (r != null) {
            held.decrementAndGet();
            r.arena().close();
        }
    }

    public int held() {
        return held.get();
    }

    /** Most activation batches ever held at once. */
    public int peakHeld() {
        return peakHeld.get();
    }

    @Override
    public void close() {
        tensors.values().forEach(r -> r.arena().close());
        tensors.clear();
        held.set(0);
    }
}
