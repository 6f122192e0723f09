package dev.espalier.kernels.cpu;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one place where the CPU backend runs work on several threads: a fixed pool of {@code threads - 1} daemon
 * workers plus the calling thread (never the common pool). Work is split into disjoint pieces; every output element
 * must be computed by exactly one piece in a fixed order, so results never depend on the thread count. A call made
 * from inside a piece runs inline (no nested fan-out, so no deadlock).
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
    private final ExecutorService pool; // (threads - 1) workers; null when threads == 1

    /** A helper running on {@code threads} threads (the caller counts as one); {@code threads >= 1}. */
    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("Parallel: threads " + threads + ", expected at least 1");
        }
        this.threads = threads;
        if (threads == 1) {
            this.pool = null;
        } else {
            AtomicInteger counter = new AtomicInteger();
            ThreadFactory factory = r -> {
                Thread t = new Thread(
                        () -> {
                            INSIDE.set(true);
                            r.run();
                        },
                        "espalier-cpu-" + counter.incrementAndGet());
                t.setDaemon(true);
                return t;
            };
            this.pool = new ThreadPoolExecutor(
                    threads - 1, threads - 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), factory);
        }
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
        if (pieces == 1 || pool == null || INSIDE.get()) {
            body.run(0, n);
            return;
        }
        int base = n / pieces;
        int extra = n % pieces;
        List<Future<?>> futures = new ArrayList<>(pieces - 1);
        int start = base + (extra > 0 ? 1 : 0); // piece 0 runs on the caller
        for (int p = 1; p < pieces; p++) {
            int from = start;
            int to = from + base + (p < extra ? 1 : 0);
            futures.add(pool.submit(() -> body.run(from, to)));
            start = to;
        }
        runInline(() -> body.run(0, base + (extra > 0 ? 1 : 0)), futures);
    }

    /**
     * Runs tasks 0..count-1, handed out one at a time to whichever thread is free (dynamic load balancing);
     * returns when all are done, rethrowing the first failure. Tasks must write disjoint outputs.
     */
    public void forEachTask(int count, TaskBody body) {
        if (count <= 0) {
            return;
        }
        if (count == 1 || pool == null || INSIDE.get()) {
            for (int i = 0; i < count; i++) {
                body.run(i);
            }
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Runnable worker = () -> {
            for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                body.run(i);
            }
        };
        int helpers = Math.min(threads, count) - 1;
        List<Future<?>> futures = new ArrayList<>(helpers);
        for (int p = 0; p < helpers; p++) {
            futures.add(pool.submit(worker));
        }
        runInline(worker, futures);
    }

    private static void runInline(Runnable mine, List<Future<?>> futures) {
        Throwable failure = null;
        INSIDE.set(true);
        try {
            mine.run();
        } catch (Throwable t) {
            failure = t;
        } finally {
            INSIDE.set(false);
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (ExecutionException e) {
                failure = failure == null ? e.getCause() : failure;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = failure == null ? e : failure;
            }
        }
        if (failure instanceof RuntimeException r) {
            throw r;
        } else if (failure instanceof Error e) {
            throw e;
        } else if (failure != null) {
            throw new IllegalStateException("parallel task failed: " + failure, failure);
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
