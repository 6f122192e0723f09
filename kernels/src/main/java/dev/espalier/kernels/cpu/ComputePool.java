package dev.espalier.kernels.cpu;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The helper threads behind {@link Parallel}: {@code threads - 1} daemon threads (never the common pool), the caller
 * of each parallel call counting as the last one. One pool may serve several backends, e.g. every CPU device worker of
 * a host: a call's pieces are claimed one by one by its caller and by whichever helpers are free, so a worker alone
 * on the host gets every core, two busy workers share them, and no call waits for a helper busy with another's pieces.
 * A call is lent only helpers that are idle when it starts ({@link #tryHelp}): when every helper is busy with other
 * calls the caller runs all its pieces itself at once, rather than queueing a task that would start late and find
 * nothing left to claim.
 */
public final class ComputePool implements AutoCloseable {
    private final int threads;
    private final ExecutorService helpers; // null when threads == 1
    private final AtomicInteger idle; // helpers neither running nor promised a task

    /** A pool for calls on {@code threads} threads (the caller counts as one); {@code threads >= 1}. */
    public ComputePool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("ComputePool: threads " + threads + ", expected at least 1");
        }
        this.threads = threads;
        this.idle = new AtomicInteger(threads - 1);
        if (threads == 1) {
            this.helpers = null;
        } else {
            AtomicInteger counter = new AtomicInteger();
            ThreadFactory factory = r -> {
                Thread t = new Thread(
                        () -> {
                            Parallel.markInside();
                            r.run();
                        },
                        "espalier-cpu-" + counter.incrementAndGet());
                t.setDaemon(true);
                return t;
            };
            this.helpers = new ThreadPoolExecutor(
                    threads - 1, threads - 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), factory);
        }
    }

    /** The threads a call may use, its caller included. */
    public int threads() {
        return threads;
    }

    /** Helpers idle now (for tests). */
    int idleHelpers() {
        return idle.get();
    }

    /**
     * Hands {@code task} to an idle helper and returns true, or returns false at once when none is idle (then the
     * caller runs the work itself). Tasks are handed out only against idle helpers, so a task handed out never waits
     * in the queue behind another.
     */
    boolean tryHelp(Runnable task) {
        int free;
        do {
            free = idle.get();
            if (free == 0) {
                return false;
            }
        } while (!idle.compareAndSet(free, free - 1));
        try {
            helpers.execute(() -> {
                try {
                    task.run();
                } finally {
                    idle.incrementAndGet();
                }
            });
        } catch (RuntimeException e) { // rejected: the pool is shut down
            idle.incrementAndGet();
            return false;
        }
        return true;
    }

    @Override
    public void close() {
        if (helpers != null) {
            helpers.shutdownNow();
        }
    }
}
