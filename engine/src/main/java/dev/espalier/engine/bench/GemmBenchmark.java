package dev.espalier.engine.bench;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.cpu.OpenBlas;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Times the square f32 product C = A·B (n x n) on each CPU path: OpenBLAS {@code cblas_sgemm} called directly with
 * its own threading, the Vector API kernel of the CPU backend, and {@link CpuOps#gemm} as dispatched. Each
 * measurement is the best of {@code repetitions} timed runs after {@code warmups} untimed ones; GFLOP/s counts
 * 2n³ floating-point operations. Prints nothing (the CLI does).
 */
public final class GemmBenchmark {
    /** Sizes measured by default. */
    public static final List<Integer> DEFAULT_SIZES = List.of(1024, 2048, 4096);

    /** The implementation timed. */
    public enum Path {
        /** cblas_sgemm on the whole matrices, with OpenBLAS's own threads (as a BLAS user would call it). */
        OPENBLAS_SGEMM("openblas-sgemm"),
        /** The packed Vector API micro-kernel of {@link CpuOps} ({@link CpuOps.GemmPath#VECTOR}). */
        VECTOR_KERNEL("vector-kernel"),
        /** {@link CpuOps#gemm} with its dispatch rule ({@link CpuOps.GemmPath#AUTO}). */
        CPU_OPS("cpuops-dispatch");

        private final String label;

        Path(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** One measurement: the path's label, the size n, the best wall time in seconds and its GFLOP/s. */
    public record Result(String path, int n, double seconds, double gflops) {}

    private final int threads;
    private final int warmups;
    private final int repetitions;

    /** A benchmark on {@code threads} threads with {@code warmups} untimed and {@code repetitions} timed runs. */
    public GemmBenchmark(int threads, int warmups, int repetitions) {
        if (threads < 1 || warmups < 0 || repetitions < 1) {
            throw new IllegalArgumentException("GemmBenchmark: threads " + threads + ", warmups " + warmups
                    + ", repetitions " + repetitions + "; expected threads >= 1, warmups >= 0, repetitions >= 1");
        }
        this.threads = threads;
        this.warmups = warmups;
        this.repetitions = repetitions;
    }

    /**
     * Measures every path at every size, in the order size, then path. The OpenBLAS path is left out when the natives
     * are not loaded.
     */
    public List<Result> run(List<Integer> sizes) {
        List<Result> results = new ArrayList<>();
        try (CpuOps ops = new CpuOps(threads)) {
            for (int n : sizes) {
                try (Arena arena = Arena.ofShared()) {
                    Tensor a = random(arena, n, 1);
                    Tensor b = random(arena, n, 2);
                    Tensor c = Tensor.allocate(arena, DType.F32, n, n);
                    for (Path path : Path.values()) {
                        if (path == Path.OPENBLAS_SGEMM && !OpenBlas.available()) {
                            continue;
                        }
                        double seconds = best(() -> multiply(ops, path, a, b, c));
                        results.add(new Result(path.label(), n, seconds, 2.0 * n * n * n / seconds / 1e9));
                    }
                }
            }
        }
        return results;
    }

    private void multiply(CpuOps ops, Path path, Tensor a, Tensor b, Tensor c) {
        int n = a.rows();
        switch (path) {
            case OPENBLAS_SGEMM -> {
                OpenBlas blas = OpenBlas.get();
                blas.setThreads(threads);
                try {
                    blas.sgemm(false, false, n, n, n, 1f, a.data(), n, b.data(), n, 0f, c.data(), n);
                } finally {
                    blas.setThreads(1); // the CPU backend relies on single-threaded OpenBLAS
                }
            }
            case VECTOR_KERNEL -> ops.gemm(CpuOps.GemmPath.VECTOR, false, false, 1f, a, b, 0f, c);
            case CPU_OPS -> ops.gemm(false, false, 1f, a, b, 0f, c);
        }
    }

    private double best(Runnable run) {
        for (int i = 0; i < warmups; i++) {
            run.run();
        }
        double best = Double.POSITIVE_INFINITY;
        for (int i = 0; i < repetitions; i++) {
            long start = System.nanoTime();
            run.run();
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
        return best;
    }

    private static Tensor random(Arena arena, int n, long seed) {
        Tensor t = Tensor.allocate(arena, DType.F32, n, n);
        SplittableRandom random = new SplittableRandom(seed);
        for (long i = 0; i < (long) n * n; i++) {
            t.data().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextDouble(-1, 1));
        }
        return t;
    }
}
