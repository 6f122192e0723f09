package dev.espalier.engine.runtime;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The activation tensors resident on one host, by handle id, for every job of the process. Each tensor is written
 * once, by the device worker that allocates it, and then only read (by any worker of the host: CPU workers share
 * memory) until it is released. Each is filed under the session (job) that made it, so a restarted pipeline or a
 * finished job frees what its calls left behind. Counts what it holds, and the peak, so tests can show that
 * back-pressure bounds memory.
 *
 * <p>Memory: activations are held in RAM up to {@code budgetBytes} for the whole host; beyond it, a job that has a
 * spill folder gets its new activations as files there, memory-mapped, whose pages {@link #settle} drops from resident
 * memory after each device call (the kernel writes them out and reads them back when they are next used). The values
 * are the same either way; only where they live differs.
 */
public final class HostActivationStore implements AutoCloseable {
    /** The budget when none is given: a quarter of the machine's physical memory. */
    public static final long DEFAULT_BUDGET_BYTES = physicalMemory() / 4;

    private record Resident(Tensor tensor, Arena arena, long session, int generation, long bytes, Path file) {}

    private final long budgetBytes;
    private final ConcurrentHashMap<Long, Resident> tensors = new ConcurrentHashMap<>();
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicInteger peakHeld = new AtomicInteger();
    private final AtomicLong inMemory = new AtomicLong();
    private final AtomicLong spilled = new AtomicLong();
    private final AtomicLong peakSpilled = new AtomicLong();
    private final ConcurrentHashMap<Long, long[]> sessionSpill = new ConcurrentHashMap<>(); // {now, peak} per session

    public HostActivationStore() {
        this(DEFAULT_BUDGET_BYTES);
    }

    /** A store holding at most {@code budgetBytes} of activations in memory (beyond: spilled, where a job allows). */
    public HostActivationStore(long budgetBytes) {
        if (budgetBytes < 0) {
            throw new IllegalArgumentException("the activation memory budget must not be negative, got " + budgetBytes);
        }
        this.budgetBytes = budgetBytes;
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    /** A new zeroed (rows, cols) F32 tensor under {@code ref}'s id, made for session {@code session}, in memory. */
    public Tensor allocate(long session, ActivationRef ref, int rows, int cols) {
        return allocate(session, ref, rows, cols, null);
    }

    /**
     * A new zeroed (rows, cols) F32 tensor under {@code ref}'s id, made for session {@code session}: in memory while the
     * host's activations fit the budget, else (when {@code spillDir} is not null) a file in {@code spillDir}.
     */
    public Tensor allocate(long session, ActivationRef ref, int rows, int cols, Path spillDir) {
        long bytes = (long) rows * cols * DType.F32.byteSize();
        boolean spill = spillDir != null && inMemory.get() + bytes > budgetBytes;
        Arena arena = Arena.ofShared();
        Path file = null;
        Tensor t;
        try {
            if (spill) {
                file = spillDir.resolve("activation-" + ref.id() + ".f32");
                t = mapped(file, bytes, arena, rows, cols);
            } else {
                t = Tensor.allocate(arena, DType.F32, rows, cols);
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        if (tensors.putIfAbsent(ref.id(), new Resident(t, arena, session, ref.generation(), bytes, file)) != null) {
            free(new Resident(t, arena, session, ref.generation(), bytes, file));
            throw new IllegalStateException("activation " + ref + " already exists");
        }
        if (spill) {
            peakSpilled.accumulateAndGet(spilled.addAndGet(bytes), Math::max);
            sessionSpill.compute(session, (k, v) -> {
                long[] n = v == null ? new long[2] : v;
                n[0] += bytes;
                n[1] = Math.max(n[1], n[0]);
                return n;
            });
        } else {
            inMemory.addAndGet(bytes);
        }
        peakHeld.accumulateAndGet(held.incrementAndGet(), Math::max);
        return t;
    }

    private static Tensor mapped(Path file, long bytes, Arena arena, int rows, int cols) {
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel ch = FileChannel.open(
                    file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                return Tensor.of(
                        ch.map(FileChannel.MapMode.READ_WRITE, 0, Math.max(1, bytes), arena), DType.F32, rows, cols);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot spill an activation to " + file + " (" + e.getMessage() + ")", e);
        }
    }

    public Tensor get(ActivationRef ref) {
        Resident r = tensors.get(ref.id());
        if (r == null) {
            throw new IllegalStateException("activation " + ref + " is not resident");
        }
        return r.tensor();
    }

    /** Drops the resident pages of session {@code session}'s spilled activations (after a device call used them). */
    public void settle(long session) {
        tensors.values().forEach(r -> {
            if (r.file() != null && r.session() == session) {
                r.tensor().unloadIfMapped();
            }
        });
    }

    public void release(ActivationRef ref) {
        free(tensors.remove(ref.id()));
    }

    /**
     * Releases every activation of {@code session} (of pipeline generation {@code generation}; -1: of any, and the
     * session's spill counts). Each is
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
        if (generation < 0) {
            sessionSpill.remove(session); // the session is closing: its counts go with it
        }
    }

    private void free(Resident r) {
        if (r == null) {
            return;
        }
        held.decrementAndGet();
        r.arena().close();
        if (r.file() == null) {
            inMemory.addAndGet(-r.bytes());
            return;
        }
        spilled.addAndGet(-r.bytes());
        sessionSpill.computeIfPresent(r.session(), (k, v) -> {
            v[0] -= r.bytes();
            return v;
        });
        try {
            Files.deleteIfExists(r.file());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the spilled activation " + r.file(), e);
        }
    }

    public int held() {
        return held.get();
    }

    /** Most activation batches ever held at once. */
    public int peakHeld() {
        return peakHeld.get();
    }

    /** Most bytes of activations ever spilled to files at once. */
    public long peakSpilledBytes() {
        return peakSpilled.get();
    }

    /** Most bytes of session {@code session}'s activations spilled at once. */
    public long peakSpilledBytes(long session) {
        long[] v = sessionSpill.get(session);
        return v == null ? 0 : v[1];
    }

    @Override
    public void close() {
        new ArrayList<>(tensors.keySet()).forEach(id -> free(tensors.remove(id)));
        held.set(0);
    }

    private static long physicalMemory() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return 8L << 30;
    }
}
