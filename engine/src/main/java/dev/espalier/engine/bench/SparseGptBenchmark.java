package dev.espalier.engine.bench;

import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.prune.SparseGpt;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * Times SparseGPT on synthetic layers (seeded random weights and Gaussian calibration inputs) with the shapes of
 * LLaMA-7B's linear maps, the two phases apart, best of {@code repeats} runs after one warm-up:
 * <ul>
 *   <li>Gram accumulation: H += xᵀx over {@code tokens} rows of x (tokens, in), fed in chunks as the pipeline does
 *       ({@link GramStatistics#add}); only the accumulation is timed, not the generation of the inputs.
 *       FLOPs: 2 · tokens · in² (the full product, although the backend may compute one triangle);</li>
 *   <li>solve: {@link SparseGpt#prune} at 50 % unstructured with the paper's defaults, on a fresh copy of the weights
 *       (the copy is not timed). FLOPs: (2/3) · in³ + out · in², the textbook counts: in³/3 for the Cholesky
 *       factorisation and in³/3 for inverting its triangular factor (together the factor of H⁻¹,
 *       {@link SparseGpt#inverseFactor}; the inversion runs about in³/3 through GEMMs that skip the zero blocks,
 *       plus the zeros inside the diagonal blocks, and the official code's cholesky + cholesky_inverse + cholesky is (4/3) · in³), and out · in² for the
 *       updates: every column i updates the later columns j &gt; i of every row, 2 flops each,
 *       Σᵢ 2 · out · (in − 1 − i) ≈ out · in² (lazy blocks only regroup them into GEMMs; 2 · out · in² would count every
 *       column pair twice). Kept weights have a zero error, but their updates are executed all the same.</li>
 * </ul>
 * The solve is also split into its factorisation ({@link SparseGpt#inverseFactor} alone, (2/3) · in³) and the column
 * sweep (solve minus factorisation, out · in²), so that each can be compared with the backend's GEMM rate.
 */
public final class SparseGptBenchmark {
    /** The calibration size of the SparseGPT paper: 128 sequences of 2048 tokens; 16 × 2048 is used here. */
    public static final int TOKENS = 16 * 2048;
    /** Rows of x per {@link GramStatistics#add} call: one sequence. */
    public static final int CHUNK_ROWS = 2048;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private SparseGptBenchmark() {}

    /** One timed phase: best wall time over the repeats and the FLOPs counted for it (see the class comment). */
    public record Result(String what, LinearShape shape, long tokens, double seconds, double flops) {
        public double gflops() {
            return flops / seconds / 1e9;
        }
    }

    /** The phases of one layer; {@code zeros} is the weights zeroed by the last solve (half of out · in). */
    public record LayerResult(Result gram, Result solve, Result factorisation, Result sweep, long zeros) {}

    /** The default run: {@link #TOKENS} calibration tokens in chunks of {@link #CHUNK_ROWS}. */
    public static LayerResult layer(LinearShape shape, TensorOps ops, int repeats) {
        return layer(shape, TOKENS, CHUNK_ROWS, ops, repeats);
    }

    /** Times Gram accumulation, the SparseGPT solve at 50 % and its factorisation on one synthetic layer. */
    public static LayerResult layer(LinearShape shape, int tokens, int chunkRows, TensorOps ops, int repeats) {
        if (repeats < 1 || tokens < 1 || chunkRows < 1) {
            throw new IllegalArgumentException(
                    "SparseGptBenchmark: repeats, tokens and chunkRows must be positive, got " + repeats + ", " + tokens
                            + ", " + chunkRows);
        }
        int in = shape.in();
        try (Arena arena = Arena.ofShared()) {
            Tensor chunk = Tensor.allocate(arena, DType.F32, chunkRows, in); // (chunkRows, in) calibration inputs
            double gramSeconds = Double.MAX_VALUE;
            GramStatistics stats = null;
            try {
                for (int run = 0; run <= repeats; run++) {
                    if (stats != null) {
                        stats.close();
                    }
                    stats = new GramStatistics(in); // a fresh, zero Gram each run
                    double seconds = accumulate(stats, chunk, tokens, ops);
                    if (run > 0) {
                        gramSeconds = Math.min(gramSeconds, seconds);
                    }
                }
                Result gram = new Result("gram", shape, tokens, gramSeconds, 2.0 * tokens * in * (double) in);
                return solve(shape, stats, ops, repeats, arena, gram);
            } finally {
                if (stats != null) {
                    stats.close();
                }
            }
        }
    }

    /** Feeds {@code tokens} Gaussian rows in chunks; returns the seconds spent in {@link GramStatistics#add} only. */
    private static double accumulate(GramStatistics stats, Tensor chunk, int tokens, TensorOps ops) {
        SplittableRandom random = new SplittableRandom(17);
        int in = chunk.cols();
        float[] values = new float[chunk.rows() * in];
        long nanos = 0;
        for (int done = 0; done < tokens; done += chunk.rows()) {
            int rows = Math.min(chunk.rows(), tokens - done);
            for (int i = 0; i < rows * in; i++) {
                values[i] = (float) random.nextGaussian();
            }
            MemorySegment.copy(values, 0, chunk.data(), F32, 0, rows * in);
            Tensor x = chunk.rowSlice(0, rows);
            long start = System.nanoTime();
            stats.add(x, ops);
            nanos += System.nanoTime() - start;
        }
        return nanos / 1e9;
    }

    private static LayerResult solve(
            LinearShape shape, GramStatistics stats, TensorOps ops, int repeats, Arena arena, Result gram) {
        int in = shape.in();
        int out = shape.out();
        Tensor original = SyntheticModels.random(arena, new SplittableRandom(23), out, in); // (out, in) dense W
        Tensor weight = Tensor.allocate(arena, DType.F32, out, in); // (out, in) the copy being pruned
        double solveSeconds = Double.MAX_VALUE;
        double factorSeconds = Double.MAX_VALUE;
        long zeros = 0;
        for (int run = 0; run <= repeats; run++) {
            original.copyInto(weight);
            long start = System.nanoTime();
            LinearPruner.PruneOutcome outcome = SparseGpt.prune(
                    weight,
                    stats.gram(),
                    stats.tokens(),
                    SparsityPattern.UNSTRUCTURED,
                    0.5,
                    SparseGpt.Options.defaults(),
                    ops);
            double seconds = (System.nanoTime() - start) / 1e9;
            zeros = outcome.zeros();
            try (Arena factorArena = Arena.ofConfined()) {
                long factorStart = System.nanoTime();
                SparseGpt.inverseFactor(
                        stats.gram(),
                        stats.tokens(),
                        SparseGpt.Options.defaults().percDamp(),
                        factorArena,
                        ops);
                double factor = (System.nanoTime() - factorStart) / 1e9;
                if (run > 0) {
                    solveSeconds = Math.min(solveSeconds, seconds);
                    factorSeconds = Math.min(factorSeconds, factor);
                }
            }
        }
        double n = in;
        double factorFlops = 2.0 / 3.0 * n * n * n;
        double sweepFlops = (double) out * n * (n - 1);
        return new LayerResult(
                gram,
                new Result("solve", shape, stats.tokens(), solveSeconds, factorFlops + sweepFlops),
                new Result("factorisation", shape, stats.tokens(), factorSeconds, factorFlops),
                new Result("sweep", shape, stats.tokens(), Math.max(1e-9, solveSeconds - factorSeconds), sweepFlops),
                zeros);
    }
}
