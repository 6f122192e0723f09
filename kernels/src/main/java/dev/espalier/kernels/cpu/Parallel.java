package dev.espalier.kernels.cpu;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one place where the CPU backend runs work on several threads: the calling thread and the helpers of a
 * {@link ComputePool}, its own or one shared with other backends (a host's CPU device workers). Work is split into
 * disjoint pieces, which the caller and any free helper claim one at a time; the caller runs whatever no helper has
 * taken and waits only for pieces a helper has started. Every output element must be computed by exactly one piece in
 * a fixed order, so results never depend on the thread count or on who ran a piece. A call made from inside a piece
 * runs inline (no nested fan-out, so no deadlock).
 */
public final class Parallel implements AutoCloseable {
    /** A piece of work over the index range [from, to). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    /** Task number {@code index} of a batch. */
    @FunctionalInterface
    public interface TaskBody {
        void run(int index);
    }

    /** Runs everything on the calling thread; shared, never needs closing. */
    public static final Parallel SERIAL = new Parallel(1);

    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);
    private final int threads;
    private final ComputePool pool;
    private final boolean ownsPool;

    /** A helper on {@code threads} threads (the caller counts as one), with a pool of its own; {@code threads >= 1}. */
    public Parallel(int threads) {
        this(new ComputePool(threads), true);
    }

    /** A helper on {@code shared}'s threads, which other helpers use too; closing it leaves the pool open. */
    public Parallel(ComputePool shared) {
        this(shared, false);
    }

    private Parallel(ComputePool pool, boolean ownsPool) {
        this.pool = pool;
        this.ownsPool = ownsPool;
        this.threads = pool.threads();
    }

    /** Marks the current thread as a pool helper: parallel calls made on it run inline. */
    static void markInside() {
        INSIDE.set(true);
    }

    /**
     * The same memory, accessible from the pool's threads. Segments of a confined arena may only be touched by
     * their owner thread; during a synchronous kernel call the owner is blocked inside the call and cannot close the
     * arena, so a global-scope view of the same address range is safe for the duration of the call (and must not be
     * kept beyond it). Heap segments are returned as they are.
     */
    @SuppressWarnings("restricted")
    public static MemorySegment shareable(MemorySegment segment) {
        if (!segment.isNative()) {
            return segment;
        }
        return MemorySegment.ofAddress(segment.address()).reinterpret(segment.byteSize());
    }

    public int threads() {
        return threads;
    }

    /**
     * Splits [0, n) into at most {@code threads} contiguous ranges of at least {@code grain} indices (the last may
     * be shorter) and runs {@code body} on each; returns when all are done, rethrowing the first failure.
     */
    public void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int pieces = (int) Math.min(threads, Math.max(1, (n + (long) Math.max(1, grain) - 1) / Math.max(1, grain)));
        if (pieces == 1 || threads == 1 || INSIDE.get()) {
            body.run(0, n);
            return;
        }
        int base = n / pieces;
        int extra = n % pieces; // the first `extra` pieces are one longer
        runPieces(pieces, pieces, p -> {
            int from = p * base + Math.min(p, extra);
            body.run(from, from + base + (p < extra ? 1 : 0));
        });
    }

    /**
     * Runs tasks 0..count-1, handed out one at a time to whichever thread is free (dynamic load balancing);
     * returns when all are done, rethrowing the first failure. Tasks must write disjoint outputs.
     */
    public void forEachTask(int count, TaskBody body) {
        if (count <= 0) {
            return;
        }
        if (count == 1 || threads == 1 || INSIDE.get()) {
            for (int i = 0; i < count; i++) {
                body.run(i);
            }
            return;
        }
        runPieces(count, Math.min(threads, count), body);
    }

    /**
     * Runs pieces 0..count-1 on the caller and up to {@code width - 1} helpers, each piece claimed once; after the first
     * failure nothing more is started. Returns once every claimed piece has finished, so no piece outlives the call
     * (their memory may be freed right after), even when the caller is interrupted.
     */
    private void runPieces(int count, int width, TaskBody piece) {
        AtomicInteger next = new AtomicInteger();
        CountDownLatch finished = new CountDownLatch(count);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable claim = () -> {
            for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                try {
                    if (failure.get() == null) {
                        piece.run(i);
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    finished.countDown();
                }
            }
        };
        int lent = 1; // the caller
        while (lent < width && pool.tryHelp(claim)) {
            lent++;
        }
        INSIDE.set(true);
        try {
            claim.run();
        } finally {
            INSIDE.set(false);
        }
        boolean interrupted = false;
        while (true) {
            try {
                finished.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable t = failure.get();
        if (t instanceof RuntimeException r) {
            throw r;
        } else if (t instanceof Error e) {
            throw e;
        } else if (t != null) {
            throw new IllegalStateException("parallel task failed: " + t, t);
        }
    }

    @Override
    public void close() {
        if (ownsPool) {
            pool.close();
        }
    }
}
