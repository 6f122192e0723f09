package dev.espalier.kernels.cpu;

import static dev.espalier.kernels.TestTensors.assertBitIdentical;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The CPU backend's threads: pieces claimed by the caller and free helpers, alone or on a pool shared by backends. */
class ParallelTest {
    private static final Duration LIMIT = Duration.ofSeconds(20);

    @Test
    void everyIndexRunsExactlyOnce() {
        try (Parallel parallel = new Parallel(3)) {
            for (int n : new int[] {1, 2, 5, 64, 1001}) {
                AtomicIntegerArray runs = new AtomicIntegerArray(n);
                parallel.forRange(n, 1, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        runs.incrementAndGet(i);
                    }
                });
                AtomicIntegerArray tasks = new AtomicIntegerArray(n);
                parallel.forEachTask(n, tasks::incrementAndGet);
                for (int i = 0; i < n; i++) {
                    assertEquals(1, runs.get(i), "forRange index " + i + " of " + n);
                    assertEquals(1, tasks.get(i), "forEachTask index " + i + " of " + n);
                }
            }
        }
    }

    @Test
    void aLoneBackendOnASharedPoolGetsEveryThread() {
        try (ComputePool pool = new ComputePool(2);
                Parallel parallel = new Parallel(pool)) {
            CyclicBarrier bothRunning = new CyclicBarrier(2);
            AtomicReference<String> other = new AtomicReference<>();
            String caller = Thread.currentThread().getName();
            assertTimeoutPreemptively(
                    LIMIT,
                    () -> parallel.forRange(2, 1, (from, to) -> {
                        try {
                            bothRunning.await(10, TimeUnit.SECONDS); // only passes when the two pieces run at once
                        } catch (Exception e) {
                            throw new IllegalStateException("the two pieces did not run at the same time", e);
                        }
                        if (!Thread.currentThread().getName().equals(caller)) {
                            other.set(Thread.currentThread().getName());
                        }
                    }));
            assertNotEquals(null, other.get(), "one piece ran on the pool's helper");
        }
    }

    @Test
    void aCallNeverWaitsForAHelperBusyWithAnotherBackend() throws Exception {
        try (ComputePool pool = new ComputePool(2);
                Parallel first = new Parallel(pool);
                Parallel second = new Parallel(pool)) {
            CountDownLatch helperHeld = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread holder = new Thread(() -> first.forEachTask(2, i -> {
                if (!Thread.currentThread().getName().startsWith("espalier-cpu-")) {
                    try { // the first backend's caller: leaves the other task to the helper
                        helperHeld.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return;
                }
                helperHeld.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            holder.start();
            try {
                assertTrue(
                        helperHeld.await(10, TimeUnit.SECONDS), "the pool's one helper took the first backend's task");
                assertEquals(0, pool.idleHelpers(), "the helper is busy");
                AtomicIntegerArray runs = new AtomicIntegerArray(4);
                AtomicReference<Thread> elsewhere = new AtomicReference<>();
                assertTimeoutPreemptively(LIMIT, () -> {
                    Thread caller = Thread.currentThread();
                    second.forRange(4, 1, (from, to) -> {
                        if (Thread.currentThread() != caller) {
                            elsewhere.set(Thread.currentThread());
                        }
                        for (int i = from; i < to; i++) {
                            runs.incrementAndGet(i);
                        }
                    });
                });
                for (int i = 0; i < 4; i++) {
                    assertEquals(1, runs.get(i), "index " + i + " ran on the second backend's caller");
                }
                assertEquals(null, elsewhere.get(), "every piece ran on the second backend's caller");
                assertEquals(0, pool.idleHelpers(), "no task was queued for the busy helper");
            } finally {
                release.countDown();
                holder.join();
            }
            long deadline = System.nanoTime() + LIMIT.toNanos();
            while (pool.idleHelpers() != 1 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(1, pool.idleHelpers(), "the helper is idle again once its task ended");
        }
    }

    @Test
    void theFirstFailureIsRethrownAfterEveryStartedPieceEnds() {
        try (Parallel parallel = new Parallel(2)) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> parallel.forEachTask(8, i -> {
                        if (i == 3) {
                            throw new IllegalArgumentException("task 3");
                        }
                    }));
            assertEquals("task 3", e.getMessage());
        }
    }

    @Test
    void aSharedPoolGivesTheBytesOfOneThread() {
        try (Arena arena = Arena.ofConfined();
                ComputePool pool = new ComputePool(2);
                CpuOps shared = new CpuOps(pool);
                CpuOps other = new CpuOps(pool);
                CpuOps serial = new CpuOps(1)) {
            Tensor a = random(arena, 300, 270, 1);
            Tensor b = random(arena, 270, 260, 2);
            Tensor expected = Tensor.allocate(arena, DType.F32, 300, 260);
            serial.gemm(false, false, 1f, a, b, 0f, expected);
            for (CpuOps ops : new CpuOps[] {shared, other}) {
                Tensor c = Tensor.allocate(arena, DType.F32, 300, 260);
                ops.gemm(false, false, 1f, a, b, 0f, c);
                assertBitIdentical(expected, c, "gemm on a shared pool");
            }
            assertEquals(2, shared.threads());
        }
    }

    private static Tensor random(Arena arena, int rows, int cols, long seed) {
        Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
        SplittableRandom random = new SplittableRandom(seed);
        for (long i = 0; i < (long) rows * cols; i++) {
            t.data().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextDouble(-1, 1));
        }
        return t;
    }
}
