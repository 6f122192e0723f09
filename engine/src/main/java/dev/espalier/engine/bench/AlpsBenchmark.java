package dev.espalier.engine.bench;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.Alps;
import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Times ALPS on synthetic linear maps: a standard normal weight (out, in) scaled by 1/sqrt(in) and
 * {@code sequences × sequenceLength} standard normal calibration tokens, generated one sequence at a time. The Gram
 * accumulation (only the {@link TensorOps#accumulateGram} calls) and the solve ({@link Alps#prune}, from the raw Gram
 * to the written weight) are timed separately, each the best of {@code repeats} runs. Prints nothing (the CLI does).
 *
 * <p>FLOP model (what the rates are normalised by; O(out·in) loops are not counted):
 * <ul>
 *   <li>Gram: 2·tokens·in², as a GEMM (the CPU backend computes one triangle, so half of it is done);</li>
 *   <li>eigendecomposition ({@code dsyevd} with vectors): (4/3 + 4/3 + 2)·in³ = (14/3)·in³ — the reduction to
 *       tridiagonal form, divide-and-conquer without deflation (an upper bound), the back-transformation;</li>
 *   <li>every GEMM of the solve 2·out·in²: two per ADMM iteration (into the eigenbasis and back), one per restart,
 *       five around the loop (B0 and the first D into the eigenbasis, the errors before and after the backsolve, the
 *       backsolve's right-hand side), and one per CG iteration plus one for the starting residual (the official
 *       backsolve is assumed on: with {@code cgIterations = 0} the model over-counts by one GEMM).</li>
 * </ul>
 */
public final class AlpsBenchmark {
    public static final int SEQUENCES = 16;
    public static final int SEQUENCE_LENGTH = 2048;
    public static final double SPARSITY = 0.7;

    private AlpsBenchmark() {}

    /**
     * One measurement (best of the repeats for each part).
     *
     * @param gramSeconds  the accumulateGram calls over all tokens
     * @param solveSeconds Alps.prune from the raw Gram to the written weight
     * @param solve        the best solve's result (iterations, CG iterations, errors, phase times)
     */
    public record Result(
            LinearShape shape,
            int tokens,
            double sparsity,
            String backend,
            double gramSeconds,
            double solveSeconds,
            Alps.Result solve) {
        /** 2·tokens·in². */
        public double gramFlops() {
            return 2.0 * tokens * shape.in() * (double) shape.in();
        }

        public double gramGflops() {
            return gramFlops() / gramSeconds / 1e9;
        }

        /** The solve's FLOPs under the model of the class comment. */
        public double solveFlops() {
            return AlpsBenchmark.solveFlops(shape, solve);
        }

        public double solveGflops() {
            return solveFlops() / solveSeconds / 1e9;
        }
    }

    /** One run of the ablation: its label ("schedule", "rho=0.3", "rho=3"), the ρ it fixed (NaN: schedule), result. */
    public record AblationRun(String label, double fixedRho, Alps.Result result) {}

    /** {@link #run(LinearShape, double, int, int, int, TensorOps)} with 16 × 2048 tokens at 70 % for every default shape. */
    public static List<Result> runDefaults(int repeats, TensorOps ops) {
        List<Result> results = new ArrayList<>();
        for (LinearShape shape : LinearShape.LLAMA_7B) {
            results.add(run(shape, SPARSITY, SEQUENCES, SEQUENCE_LENGTH, repeats, ops));
        }
        return results;
    }

    /**
     * Times the Gram accumulation and the unstructured ALPS solve (official defaults) of one synthetic map at
     * {@code sparsity}, best of {@code repeats} (≥ 1) each.
     */
    public static Result run(
            LinearShape shape, double sparsity, int sequences, int sequenceLength, int repeats, TensorOps ops) {
        if (repeats < 1 || sequences < 1 || sequenceLength < 1) {
            throw new IllegalArgumentException("AlpsBenchmark: repeats " + repeats + ", sequences " + sequences
                    + ", sequence length " + sequenceLength + "; expected each >= 1");
        }
        int in = shape.in();
        int tokens = sequences * sequenceLength;
        try (Arena arena = Arena.ofShared()) {
            Tensor weight = Tensor.allocate(arena, DType.F32, shape.out(), in); // (out, in) the dense weight
            fillGaussian(weight, new SplittableRandom(17), 1.0 / Math.sqrt(in));
            Tensor work = Tensor.allocate(arena, DType.F32, shape.out(), in); // (out, in) pruned in place
            Tensor gram = Tensor.allocate(arena, DType.F32, in, in); // (in, in) Σ xᵀx
            Tensor chunk = Tensor.allocate(arena, DType.F32, sequenceLength, in); // (sequenceLength, in) one sequence
            double bestGram = Double.MAX_VALUE;
            double bestSolve = Double.MAX_VALUE;
            Alps.Result best = null;
            for (int run = 0; run < repeats; run++) {
                gram.zero();
                SplittableRandom random = new SplittableRandom(29);
                double seconds = 0;
                for (int s = 0; s < sequences; s++) {
                    fillGaussian(chunk, random, 1.0);
                    long start = System.nanoTime();
                    ops.accumulateGram(chunk, 1f, gram);
                    seconds += (System.nanoTime() - start) / 1e9;
                }
                bestGram = Math.min(bestGram, seconds);
                weight.copyInto(work);
                long start = System.nanoTime();
                Alps.Result result = Alps.prune(
                        work, gram, tokens, SparsityPattern.UNSTRUCTURED, sparsity, Alps.Options.defaults(), ops);
                seconds = (System.nanoTime() - start) / 1e9;
                if (seconds < bestSolve) {
                    bestSolve = seconds;
                    best = result;
                }
            }
            return new Result(shape, tokens, sparsity, ops.name(), bestGram, bestSolve, best);
        }
    }

    /**
     * The ablation of the paper's tables 3–4 on one layer: ALPS with the ρ schedule, then with ρ fixed at 0.3 and at
     * 3 (official defaults otherwise), each on a copy of {@code weight} (out, in) F32, which is not modified; the
     * results carry the per-iteration trace (relative error of the sparse iterate, support changes, ρ).
     *
     * @param gram   (in, in) the raw XᵀX of the layer's calibration inputs
     * @param tokens the tokens summed into {@code gram}
     */
    public static List<AblationRun> ablation(
            Tensor weight, Tensor gram, long tokens, SparsityPattern pattern, double sparsity, TensorOps ops) {
        List<AblationRun> runs = new ArrayList<>();
        Alps.Options defaults = Alps.Options.defaults();
        double[] fixed = {Double.NaN, 0.3, 3.0};
        String[] labels = {"schedule", "rho=0.3", "rho=3"};
        try (Arena arena = Arena.ofShared()) {
            Tensor copy = Tensor.allocate(arena, DType.F32, weight.rows(), weight.cols()); // (out, in)
            for (int i = 0; i < fixed.length; i++) {
                weight.copyInto(copy);
                Alps.Options options = Double.isNaN(fixed[i]) ? defaults : defaults.withFixedRho(fixed[i]);
                runs.add(new AblationRun(
                        labels[i], fixed[i], Alps.prune(copy, gram, tokens, pattern, sparsity, options, ops)));
            }
        }
        return runs;
    }

    /** The ablation on one real layer: the layer, its up_proj weight's shape (out, in), the calibration tokens, the runs. */
    public record LayerAblation(int layer, int[] shape, long tokens, List<AblationRun> runs) {}

    /**
     * {@link #ablation} at 70 % unstructured on up_proj of layer 2 of {@code model} (the last layer when it has fewer),
     * the Gram from the dense model's inputs to that layer on {@code calibration}.
     */
    public static LayerAblation upProjAblation(LlamaModel model, int[][] calibration, TensorOps ops) {
        int layer = Math.min(2, model.config().numLayers() - 1);
        Tensor weight = LinearModule.UP.weight(model.layer(layer));
        try (GramStatistics gram = DenseInputGram.of(model, layer, LinearModule.UP, calibration, ops)) {
            List<AblationRun> runs =
                    ablation(weight, gram.gram(), gram.tokens(), SparsityPattern.UNSTRUCTURED, SPARSITY, ops);
            return new LayerAblation(layer, weight.shape(), gram.tokens(), runs);
        }
    }

    /** The solve's FLOPs under the model of the class comment, from what the solve did. */
    public static double solveFlops(LinearShape shape, Alps.Result solve) {
        double in = shape.in();
        double gemm = 2.0 * shape.out() * in * in;
        int gemms = 2 * solve.iterations()
                + solve.restarts()
                + 5
                + (solve.cgIterations() > 0 ? solve.cgIterations() + 1 : 0);
        return 14.0 / 3.0 * in * in * in + gemms * gemm;
    }

    private static void fillGaussian(Tensor t, SplittableRandom random, double scale) {
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            t.setFlat(i, random.nextGaussian() * scale);
        }
    }
}
