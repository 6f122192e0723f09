package dev.espalier.engine.runtime;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The activation tensors resident on one host, by handle id, for every job of the process. Each tensor is written
 * once, by the device worker that allocates it, and then only read (by any worker of the host: CPU workers share
 * memory) until it is released. Each is filed under the session (job) that made it, so a restarted pipeline or a
 * finished job frees what its calls left behind. Counts what it holds, and the peak, so tests can show that
 * back-pressure bounds memory.
 */
public final class HostActivationStore implements AutoCloseable {
    private record Resident(Tensor tensor, Arena arena, long session, int generation) {}

    private final ConcurrentHashMap<Long, Resident> tensors = new ConcurrentHashMap<>();
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicInteger peakHeld = new AtomicInteger();

    /** A new zeroed (rows, cols) F32 tensor under {@code ref}'s id, made for session {@code session}. */
    public Tensor allocate(long session, ActivationRef ref, int rows, int cols) {
        Arena arena = Arena.ofShared();
        Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
        if (tensors.putIfAbsent(ref.id(), new Resident(t, arena, session, ref.generation())) != null) {
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
        free(tensors.remove(ref.id()));
    }

    /**
     * Releases every activation of {@code session} (of pipeline generation {@code generation}; -1: of any). Each is
     * removed before it is freed, so a concurrent {@link #release} of the same handle frees it at most once.
     */
    public void releaseAll(long session, int generation) {
        List<Long> ids = new ArrayList<>();
        tensors.forEach((id, r) -> {
            if (r.session() == session && (generation < 0 || r.generation() == generation)) {
                ids.add(id);
            }
        });
        ids.forEach(id -> free(tensors.remove(id)));
    }

    private void free(Resident r) {
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
