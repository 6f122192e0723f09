package dev.espalier.engine.bench;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.cuda.CudaHost;
import dev.espalier.kernels.cuda.CudaOps;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times the square product C = A·B (n x n, f32 accumulation and output) on one GPU, two ways: {@code resident}, the
 * matrices already in device memory (the rate of cuBLAS as the engine calls it, to compare with
 * {@code torch.matmul} on device tensors), and {@code cudaops}, {@link CudaOps#gemm} on host tensors with its copies
 * in and out. Inputs f32 or bf16. Each figure is the best of the timed runs after untimed warm-ups; TFLOP/s counts
 * 2n³ operations. {@code scripts/device-check} runs {@link #main} beside PyTorch in the same session.
 */
public final class CudaGemmBenchmark {
    /** One measurement. */
    public record Result(String path, DType inputs, int n, double seconds, double tflops) {
        /** One line of the benchmark's table. */
        public String format() {
            return String.format(
                    Locale.ROOT, "%-9s %-5s %6d %10.3f ms %8.1f TFLOP/s", path, inputs, n, seconds * 1e3, tflops);
        }
    }

    private CudaGemmBenchmark() {}

    /** Both paths for f32 and bf16 inputs at every size, on {@code cuda:<ordinal>}. */
    public static List<Result> run(int ordinal, List<Integer> sizes, int warmups, int repetitions) {
        List<Result> results = new ArrayList<>();
        try (CudaOps ops = CudaOps.open(ordinal, 1)) {
            for (int n : sizes) {
                for (DType in : List.of(DType.F32, DType.BF16)) {
                    double resident = ops.residentGemmSeconds(in, n, warmups, repetitions);
                    results.add(new Result("resident", in, n, resident, 2.0 * n * n * n / resident / 1e12));
                    double copied = withCopies(ops, in, n, repetitions);
                    results.add(new Result("cudaops", in, n, copied, 2.0 * n * n * n / copied / 1e12));
                }
            }
        }
        return results;
    }

    private static double withCopies(CudaOps ops, DType in, int n, int repetitions) {
        try (Arena arena = Arena.ofConfined()) {
            Tensor a = Tensor.allocate(arena, DType.F32, n, n);
            SplittableRandom random = new SplittableRandom(n);
            for (long i = 0; i < (long) n * n; i++) {
                a.data().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextDouble(-1, 1));
            }
            Tensor input = in == DType.F32 ? a : a.copyAs(arena, in);
            Tensor c = Tensor.allocate(arena, DType.F32, n, n);
            ops.gemm(false, false, 1f, input, input, 0f, c); // warm-up
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < repetitions; i++) {
                long start = System.nanoTime();
                ops.gemm(false, false, 1f, input, input, 0f, c);
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
            }
            return best;
        }
    }

    /** Prints the table for the sizes given as arguments (default 4096 8192) on cuda:0; exit 1 without a GPU. */
    public static void main(String[] args) {
        String reason = CudaHost.unavailableReason();
        if (reason != null) {
            System.err.println("cuda gemm benchmark: " + reason);
            System.exit(1);
        }
        List<Integer> sizes = new ArrayList<>();
        for (String a : args) {
            sizes.add(Integer.parseInt(a));
        }
        if (sizes.isEmpty()) {
            sizes = List.of(4096, 8192);
        }
        System.out.println(CudaHost.get().describe());
        System.out.println("path      in         n       best        rate");
        for (Result r : run(0, sizes, 3, 10)) {
            System.out.println(r.format());
        }
    }
}
