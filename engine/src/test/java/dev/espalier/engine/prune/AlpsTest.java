package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AlpsTest {
    private final TensorOps ops = new ReferenceOps();

    /**
     * Golden numbers from a line-by-line numpy transcription of {@code ALPS_admm} and {@code cg_batch} of the official
     * code (mazumder-lab/ALPS, alps.py at bbdad62; the transcription is not part of this repository), run on the same
     * f32 Gram and weight: the iterations, the final ρ and the relative errors before and after the backsolve must
     * agree, which pins the schedule (including the ρ ÷ 5 and restart branches, cases with initial ρ 20), the
     * projections and the eigenbasis form of the B-update to the official explicit-inverse one.
     */
    @Test
    void reproducesTheOfficialCodeOnFixedProblems() {
        record Golden(
                long seed,
                int out,
                int in,
                int tokens,
                SparsityPattern pattern,
                double sparsity,
                double rho,
                int iterations,
                double finalRho,
                double admmObjective,
                double objective) {}
        SparsityPattern unstructured = SparsityPattern.UNSTRUCTURED;
        List<Golden> cases = List.of(
                new Golden(11, 8, 16, 128, unstructured, 0.6, 0.1, 27, 0.7529822040000002, 0.0413893461, 0.0413608365),
                new Golden(
                        11,
                        8,
                        16,
                        128,
                        new SparsityPattern(2, 4),
                        Double.NaN,
                        0.1,
                        33,
                        1.0842943737600002,
                        0.0489707626,
                        0.0489687026),
                new Golden(3, 4, 8, 40, unstructured, 0.5, 0.1, 18, 0.371293, 0.0115565117, 0.0103048598),
                new Golden(
                        5,
                        16,
                        32,
                        256,
                        new SparsityPattern(4, 8),
                        Double.NaN,
                        0.1,
                        30,
                        0.9035786448000002,
                        0.0352936350,
                        0.0352866948),
                new Golden(2, 32, 64, 512, unstructured, 0.5, 20, 12, 0.96, 0.0161441267, 0.0160913263),
                new Golden(
                        6,
                        32,
                        64,
                        512,
                        new SparsityPattern(2, 4),
                        Double.NaN,
                        20,
                        21,
                        1.39392,
                        0.0515602827,
                        0.0515489839));
        for (Golden g : cases) {
            AlpsLeastSquares p = AlpsLeastSquares.correlated(g.seed(), g.out(), g.in(), g.tokens());
            Alps.Options options = new Alps.Options(g.rho(), 300, 3, 30, 0.0, 10, 1e-4, 0.01, Double.NaN);
            try (Arena arena = Arena.ofConfined()) {
                Alps.Result r = Alps.prune(
                        p.weightTensor(arena),
                        p.gramTensor(arena, ops),
                        p.tokens,
                        g.pattern(),
                        g.sparsity(),
                        options,
                        ops);
                String what = "seed " + g.seed() + " " + g.out() + "x" + g.in() + " " + g.pattern();
                assertEquals(g.iterations(), r.iterations(), what + ": iterations");
                assertEquals(g.finalRho(), r.finalRho(), 1e-12 * g.finalRho(), what + ": final rho");
                assertEquals(g.admmObjective(), r.admmObjective(), 1e-5 * g.admmObjective(), what + ": ADMM error");
                assertEquals(g.objective(), r.objective(), 1e-4 * g.objective(), what + ": final error");
            }
        }
        AlpsLeastSquares p = AlpsLeastSquares.correlated(6, 32, 64, 512);
        try (Arena arena = Arena.ofConfined()) {
            Alps.Result r = Alps.prune(
                    p.weightTensor(arena),
                    p.gramTensor(arena, ops),
                    p.tokens,
                    new SparsityPattern(2, 4),
                    Double.NaN,
                    new Alps.Options(20, 300, 3, 30, 0, 10, 1e-4, 0.01, Double.NaN),
                    ops);
            assertEquals(2, r.restarts(), "the 2:4 case from rho 20 restarts from B0 twice");
            assertEquals(2, r.trace().stream().filter(Alps.Iteration::restarted).count(), "restarts in the trace");
        }
    }

    /**
     * Brute force over every support of size k of the whole matrix (in = 8, out = 1 or 2, correlated inputs, 40
     * tokens), each refit exactly on the damped Gram ALPS minimises. ALPS is a local method, and on problems this small
     * the official stop rules (stop at the first schedule check without a support change once ρ has grown, or
     * c/k < 0.0003 after 30 iterations) fire at ρ ≈ 0.1–0.4, before B is near D: with the official defaults 45 of
     * these 80 instances end within 1 % of the optimum (worst ×2.84, the same as the numpy transcription of the
     * official code). With the stops deferred until ρ ≥ 10 ({@code stopRho}), 72 of 80 end within 1 % and all within
     * 14 %; the rest are local optima of the ADMM (growing ρ steadily for 1000 iterations, without any stop, leaves a
     * similar share in the transcription), so a per-seed 1 % bound on every seed is not a property of ALPS.
     * Against SparseGPT on the same instances: with the official defaults ALPS ends worse on 12 of 80 (up to ×2.31 its
     * error); with {@code stopRho} 10 on 1 (out 1, sparsity 0.5, seed 5, ×1.049: the support never changes, ρ only
     * shrinks and the settled-support stop fires at iteration 33 with ρ ≈ 2e-9; stopRho defers stops only once ρ has
     * grown). With 400 tokens instead of 40 the same grid gives 71 of 80 within 1 % (worst 1.227) and none worse
     * than SparseGPT; with the official defaults 38 of 80 and 20 worse than SparseGPT. The N:M test below is the
     * regime where the schedule is meant to work.
     */
    @Test
    void reachesTheBruteForceOptimumOnSmallProblemsWhenRunToLargeRho() {
        Alps.Options options = Alps.Options.defaults().withStopRho(10);
        int instances = 0;
        int withinOnePercent = 0;
        int worseThanSparseGpt = 0;
        double worst = 0;
        StringBuilder misses = new StringBuilder();
        for (int out = 1; out <= 2; out++) {
            for (double sparsity : new double[] {0.5, 0.75}) {
                for (long seed = 1; seed <= 20; seed++) {
                    AlpsLeastSquares p = AlpsLeastSquares.correlated(seed, out, 8, 40);
                    double[][] h = p.damped(0.01);
                    try (Arena arena = Arena.ofConfined()) {
                        Tensor w = p.weightTensor(arena);
                        Alps.prune(
                                w,
                                p.gramTensor(arena, ops),
                                p.tokens,
                                SparsityPattern.UNSTRUCTURED,
                                sparsity,
                                options,
                                ops);
                        double alps = p.error(w.toFloatArray(), h);
                        double ratio = alps / bruteForceOptimum(p, sparsity, h);
                        Tensor bySparseGpt = p.weightTensor(arena);
                        SparseGpt.prune(
                                bySparseGpt,
                                p.gramTensor(arena, ops),
                                p.tokens,
                                SparsityPattern.UNSTRUCTURED,
                                sparsity,
                                SparseGpt.Options.defaults(),
                                ops);
                        worseThanSparseGpt += alps > p.error(bySparseGpt.toFloatArray(), h) ? 1 : 0;
                        instances++;
                        worst = Math.max(worst, ratio);
                        if (ratio <= 1.01) {
                            withinOnePercent++;
                        } else {
                            misses.append(String.format(
                                    " (out %d, sparsity %.2f, seed %d): %.4f", out, sparsity, seed, ratio));
                        }
                    }
                }
            }
        }
        // Observed: 72 of 80 within 1 %, worst 1.133. The bars leave a little room for rounding; the official stop
        // rules alone give 45 of 80 (worst 2.84). The exact schedule is pinned by the golden test above.
        assertTrue(
                withinOnePercent >= 70,
                withinOnePercent + " of " + instances + " within 1 %, expected >= 70;" + " misses:" + misses);
        assertTrue(worst <= 1.15, "worst ratio to the optimum " + worst + ", expected <= 1.15; misses:" + misses);
        assertTrue(
                worseThanSparseGpt <= 1, worseThanSparseGpt + " of " + instances + " worse than SparseGPT, measured 1");
    }

    /**
     * The brute-force check where it can be done at a realistic support size: N:M separates by rows, so the
     * exact optimum of a 32 x 8 or 32 x 16 map (k = 128 or 256 weights, the regime the ρ schedule's fractions of k are
     * made for) is the sum of per-row enumerations of every N:M support (36 or 1296 per row for 2:4, 70 or 4900 for
     * 4:8), each refit exactly. Correlated inputs, 400 tokens (n = 25–50 d), 20 seeds per case, official defaults.
     * Measured (80 instances): ALPS's error is at most 1.081 times the optimum (mean 1.022), within 1 % on 24 of 80,
     * and below SparseGPT's on every instance (at most 0.807 of it). ALPS is a local method: no setting of its schedule
     * brings every instance within 1 % (deferring the stops to ρ ≥ 10 changes none of these numbers by more than
     * 0.001), so the per-instance bound asserted is 10 %, the mean 3 %, and "never worse than SparseGPT" holds on all.
     */
    @Test
    void nmSolutionsAreNearTheBruteForceOptimumAndNeverWorseThanSparseGpt() {
        int instances = 0;
        int withinOnePercent = 0;
        double sumOfRatios = 0;
        for (int in : new int[] {8, 16}) {
            for (SparsityPattern pattern :
                    new SparsityPattern[] {new SparsityPattern(2, 4), new SparsityPattern(4, 8)}) {
                for (long seed = 1; seed <= 20; seed++) {
                    AlpsLeastSquares p = AlpsLeastSquares.correlated(seed, 32, in, 400);
                    double[][] h = p.damped(0.01);
                    String what = "32x" + in + " " + pattern + " seed " + seed;
                    try (Arena arena = Arena.ofConfined()) {
                        Tensor gram = p.gramTensor(arena, ops);
                        Tensor byAlps = p.weightTensor(arena);
                        Alps.prune(byAlps, gram, p.tokens, pattern, Double.NaN, Alps.Options.defaults(), ops);
                        Tensor bySparseGpt = p.weightTensor(arena);
                        SparseGpt.prune(
                                bySparseGpt, gram, p.tokens, pattern, Double.NaN, SparseGpt.Options.defaults(), ops);
                        double alps = p.error(byAlps.toFloatArray(), h);
                        double sparseGpt = p.error(bySparseGpt.toFloatArray(), h);
                        double ratio = alps / bruteForceNmOptimum(p, pattern, h);
                        assertTrue(ratio >= 1 - 1e-6, what + ": below the brute-force optimum, " + ratio);
                        assertTrue(ratio <= 1.10, what + ": " + ratio + " times the brute-force optimum");
                        assertTrue(alps <= sparseGpt, what + ": ALPS " + alps + " vs SparseGPT " + sparseGpt);
                        instances++;
                        sumOfRatios += ratio;
                        withinOnePercent += ratio <= 1.01 ? 1 : 0;
                    }
                }
            }
        }
        assertTrue(sumOfRatios / instances <= 1.03, "mean ratio to the optimum " + sumOfRatios / instances);
        assertTrue(withinOnePercent >= 20, withinOnePercent + " of " + instances + " within 1 %, measured 24");
    }

    /**
     * On 16 x 32 maps with correlated inputs ALPS (official defaults) ends below the magnitude mask (whole matrix)
     * and the Wanda mask (|W| ||X_j||, per row), each refit exactly by least squares — a SparseGPT-like bound for
     * those masks — on the true, undamped objective ||X(Ŵ − W)||².
     */
    @Test
    void beatsMagnitudeAndWandaMasksWithExactRefit() {
        int out = 16;
        int in = 32;
        for (double sparsity : new double[] {0.5, 0.75}) {
            for (long seed = 1; seed <= 4; seed++) {
                AlpsLeastSquares p = AlpsLeastSquares.correlated(seed, out, in, 256);
                try (Arena arena = Arena.ofConfined()) {
                    Tensor w = p.weightTensor(arena);
                    Alps.prune(
                            w,
                            p.gramTensor(arena, ops),
                            p.tokens,
                            SparsityPattern.UNSTRUCTURED,
                            sparsity,
                            Alps.Options.defaults(),
                            ops);
                    double alps = p.error(w.toFloatArray(), p.gram);
                    float[] magnitudeScores = LinearPruner.absoluteValues(p.weightTensor(arena));
                    boolean[] magnitude = MaskSelection.select(
                            magnitudeScores,
                            out,
                            in,
                            SparsityPattern.UNSTRUCTURED,
                            sparsity,
                            MaskSelection.Scope.MATRIX,
                            ops);
                    float[] wandaScores = magnitudeScores.clone();
                    for (int r = 0; r < out; r++) {
                        for (int c = 0; c < in; c++) {
                            wandaScores[r * in + c] *= (float) Math.sqrt(p.gram[c][c]);
                        }
                    }
                    boolean[] wanda = MaskSelection.select(
                            wandaScores, out, in, SparsityPattern.UNSTRUCTURED, sparsity, MaskSelection.Scope.ROW, ops);
                    double magnitudeRefit = p.refitError(magnitude, p.gram);
                    double wandaRefit = p.refitError(wanda, p.gram);
                    String what = "seed " + seed + ", sparsity " + sparsity + ": ALPS " + alps;
                    assertEquals(nonzeros(w.toFloatArray()), count(magnitude), what + ": same budget as magnitude");
                    assertEquals(count(wanda), count(magnitude), what + ": same budget for Wanda");
                    assertTrue(alps <= magnitudeRefit, what + " > magnitude + refit " + magnitudeRefit);
                    assertTrue(alps <= wandaRefit, what + " > Wanda + refit " + wandaRefit);
                }
            }
        }
    }

    @Test
    void nmResultsAreExactlyNm() {
        for (SparsityPattern pattern : List.of(new SparsityPattern(2, 4), new SparsityPattern(4, 8))) {
            AlpsLeastSquares p = AlpsLeastSquares.correlated(7, 8, 16, 128);
            try (Arena arena = Arena.ofConfined()) {
                Tensor w = p.weightTensor(arena);
                Alps.Result r = Alps.prune(
                        w, p.gramTensor(arena, ops), p.tokens, pattern, Double.NaN, Alps.Options.defaults(), ops);
                float[] a = w.toFloatArray();
                for (int g = 0; g < a.length; g += pattern.group()) {
                    int kept = 0;
                    for (int j = g; j < g + pattern.group(); j++) {
                        kept += a[j] != 0f ? 1 : 0;
                    }
                    assertEquals(pattern.keep(), kept, pattern + ": nonzeros in the group at flat index " + g);
                }
                assertEquals(a.length - nonzeros(a), r.outcome().zeros(), pattern + ": zeros reported");
                assertEquals(
                        1.0 - (double) pattern.keep() / pattern.group(),
                        r.outcome().sparsity(),
                        0.0);
            }
        }
    }

    @Test
    void nmTrailingPartialGroupKeepsItsShareOfN() {
        AlpsLeastSquares p = AlpsLeastSquares.correlated(
                9, 3, 12, 128); // 3 outputs, 12 inputs: one group of 8, a trailing group of 4
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = p.weightTensor(arena);
            Alps.Result r = Alps.prune(
                    w,
                    p.gramTensor(arena, ops),
                    p.tokens,
                    new SparsityPattern(4, 8),
                    Double.NaN,
                    Alps.Options.defaults(),
                    ops);
            for (int row = 0; row < 3; row++) {
                int head = 0;
                int tail = 0;
                for (int c = 0; c < 12; c++) {
                    int nz = w.get(row, c) != 0f ? 1 : 0;
                    head += c < 8 ? nz : 0;
                    tail += c >= 8 ? nz : 0;
                }
                assertEquals(4, head, "row " + row + " full group");
                assertEquals(2, tail, "row " + row + " trailing group");
            }
            assertEquals(18, r.outcome().zeros());
        }
    }

    @Test
    void unstructuredKeepsAtMostKOverTheWholeMatrix() {
        for (double sparsity : new double[] {0.3, 0.55, 0.9}) {
            AlpsLeastSquares p = AlpsLeastSquares.correlated(9, 6, 10, 64);
            try (Arena arena = Arena.ofConfined()) {
                Tensor w = p.weightTensor(arena);
                Alps.Result r = Alps.prune(
                        w,
                        p.gramTensor(arena, ops),
                        p.tokens,
                        SparsityPattern.UNSTRUCTURED,
                        sparsity,
                        Alps.Options.defaults(),
                        ops);
                long k = Math.round((1 - sparsity) * 60);
                int nonzeros = nonzeros(w.toFloatArray());
                assertTrue(nonzeros <= k, "sparsity " + sparsity + ": " + nonzeros + " nonzeros, expected <= " + k);
                assertEquals(60 - nonzeros, r.outcome().zeros(), "sparsity " + sparsity + ": zeros reported");
            }
        }
    }

    /**
     * The backsolve solves the restricted normal equations: on ALPS's final support S_r of each row, the weight equals
     * the solution of {@code H[S,S] ŵ_S = (H w)_S} (H the damped Gram) by Cholesky (ReferenceOps) within 1e-4 when
     * CG runs to convergence (50 iterations, tolerance 1e-9). With the official stopping rule (10 iterations, relative
     * residual 1e-4) the weights stop short by up to ~1e-3 relative, but the error, quadratic in that gap, is the
     * exact refit's within 1e-5 relative.
     */
    @Test
    void backsolveEqualsTheDirectSolveOnTheSupport() {
        Alps.Options converged = Alps.Options.defaults().withBacksolve(50, 1e-9);
        for (Alps.Options options : List.of(converged, Alps.Options.defaults())) {
            for (long seed = 1; seed <= 3; seed++) {
                AlpsLeastSquares p = AlpsLeastSquares.correlated(seed, 4, 8, 64);
                double[][] h = p.damped(0.01);
                try (Arena arena = Arena.ofConfined()) {
                    Tensor w = p.weightTensor(arena);
                    Alps.Result r = Alps.prune(
                            w, p.gramTensor(arena, ops), p.tokens, SparsityPattern.UNSTRUCTURED, 0.5, options, ops);
                    assertTrue(r.cgIterations() > 0, "the backsolve ran");
                    float[] a = w.toFloatArray();
                    String what = "CG " + options.cgIterations() + " x " + options.cgTolerance() + ", seed " + seed;
                    if (options == converged) {
                        for (int row = 0; row < p.out; row++) {
                            double[] direct = directSolve(arena, p, h, a, row);
                            for (int i = 0; i < p.in; i++) {
                                assertEquals(
                                        direct[i], a[row * p.in + i], 1e-4, what + ", weight (" + row + ", " + i + ")");
                            }
                        }
                    } else {
                        boolean[] support = new boolean[a.length];
                        for (int i = 0; i < a.length; i++) {
                            support[i] = a[i] != 0f;
                        }
                        double exact = p.refitError(support, h);
                        assertEquals(exact, p.error(a, h), 1e-5 * exact, what + ": error against the exact refit");
                    }
                }
            }
        }
    }

    /**
     * One eigendecomposition per layer and nothing but GEMMs afterwards: no Cholesky, no triangular solve; two GEMMs
     * per ADMM iteration, one per restart, and five around the loop (B0 into the eigenbasis, the starting D, the
     * error of Π(B), the right-hand side Hs B0 of the backsolve, the final error).
     */
    @Test
    void oneEigendecompositionAndTwoGemmsPerIteration() {
        AlpsLeastSquares p = AlpsLeastSquares.correlated(4, 8, 16, 128);
        try (Arena arena = Arena.ofConfined()) {
            Tensor gram = p.gramTensor(arena, ops);
            AlpsCountingOps counting = new AlpsCountingOps(ops);
            Alps.Result r = Alps.prune(
                    p.weightTensor(arena),
                    gram,
                    p.tokens,
                    SparsityPattern.UNSTRUCTURED,
                    0.6,
                    Alps.Options.defaults(),
                    counting);
            assertTrue(r.iterations() > 10, "ran " + r.iterations() + " iterations");
            assertEquals(1, counting.eigens, "symmetricEigen calls");
            assertEquals(0, counting.choleskys, "cholesky calls");
            assertEquals(0, counting.triangularSolves, "solveLowerTriangular calls");
            assertEquals(1, counting.conjugateGradients, "maskedConjugateGradient calls");
            assertEquals(2 * r.iterations() + r.restarts() + 5, counting.gemms, "gemm calls");
        }
    }

    @Test
    void rhoChangesOnlyAtScheduleChecksAndStaysFixedWhenAsked() {
        AlpsLeastSquares p = AlpsLeastSquares.correlated(8, 8, 16, 128);
        try (Arena arena = Arena.ofConfined()) {
            Tensor gram = p.gramTensor(arena, ops);
            Alps.Result scheduled = Alps.prune(
                    p.weightTensor(arena),
                    gram,
                    p.tokens,
                    SparsityPattern.UNSTRUCTURED,
                    0.5,
                    Alps.Options.defaults(),
                    ops);
            List<Alps.Iteration> trace = scheduled.trace();
            assertEquals(0.1, trace.get(0).rho(), 0.0, "initial rho");
            boolean changed = false;
            for (int i = 1; i < trace.size(); i++) {
                assertEquals(i, trace.get(i).iteration());
                if (i % 3 != 0) {
                    assertEquals(trace.get(i - 1).rho(), trace.get(i).rho(), 0.0, "rho between checks, iteration " + i);
                } else {
                    changed |= trace.get(i).rho() != trace.get(i - 1).rho();
                }
                assertTrue(trace.get(i).objective() > 0 && trace.get(i).objective() < 1, "objective " + i);
            }
            assertTrue(changed, "the schedule moved rho");
            for (double fixed : new double[] {0.3, 3}) {
                Alps.Result r = Alps.prune(
                        p.weightTensor(arena),
                        gram,
                        p.tokens,
                        SparsityPattern.UNSTRUCTURED,
                        0.5,
                        Alps.Options.defaults().withFixedRho(fixed).withMaxIterations(60),
                        ops);
                assertTrue(r.iterations() >= 1 && r.iterations() <= 60, "iterations " + r.iterations());
                for (Alps.Iteration it : r.trace()) {
                    assertEquals(fixed, it.rho(), 0.0, "fixed rho at iteration " + it.iteration());
                }
                assertEquals(fixed, r.finalRho(), 0.0);
                assertEquals(0, r.restarts());
            }
        }
    }

    /**
     * The O(out·in) passes (B-updates, projection, sums, backsolve, write-back) run in tiles fixed by the shape: one
     * and three threads give the same bytes, for a weight and Gram in a confined arena (reached from the pool's
     * threads) and a matrix of two projection pieces.
     */
    @Test
    void sameBytesOnOneAndThreeThreads() {
        AlpsLeastSquares p = AlpsLeastSquares.correlated(5, 2100, 256, 512);
        for (SparsityPattern pattern : List.of(SparsityPattern.UNSTRUCTURED, SparsityPattern.parse("2:4"))) {
            double sparsity = pattern.isNm() ? Double.NaN : 0.7;
            List<float[]> results = new ArrayList<>();
            try (Arena arena = Arena.ofConfined();
                    CpuOps one = new CpuOps(1)) {
                Tensor gram = p.gramTensor(arena, one);
                for (int threads : new int[] {1, 3}) {
                    try (CpuOps cpu = new CpuOps(threads)) {
                        Tensor weight = p.weightTensor(arena);
                        Alps.prune(weight, gram, p.tokens, pattern, sparsity, Alps.Options.defaults(), cpu);
                        results.add(weight.toFloatArray());
                    }
                }
            }
            assertArrayEquals(results.get(0), results.get(1), pattern + ": 1 vs 3 threads");
        }
    }

    /** The CPU backend (OpenBLAS, f32 GEMMs) follows the oracle: same iterations and errors within 1e-3. */
    @Test
    void cpuBackendAgreesWithTheReference() {
        AlpsLeastSquares p = AlpsLeastSquares.correlated(12, 32, 64, 512);
        try (Arena arena = Arena.ofShared();
                CpuOps cpu = new CpuOps(1)) {
            Alps.Result expected = Alps.prune(
                    p.weightTensor(arena),
                    p.gramTensor(arena, ops),
                    p.tokens,
                    SparsityPattern.UNSTRUCTURED,
                    0.7,
                    Alps.Options.defaults(),
                    ops);
            Alps.Result actual = Alps.prune(
                    p.weightTensor(arena),
                    p.gramTensor(arena, cpu),
                    p.tokens,
                    SparsityPattern.UNSTRUCTURED,
                    0.7,
                    Alps.Options.defaults(),
                    cpu);
            assertEquals(expected.iterations(), actual.iterations(), "iterations");
            assertEquals(expected.admmObjective(), actual.admmObjective(), 1e-3 * expected.admmObjective());
            assertEquals(expected.objective(), actual.objective(), 1e-3 * expected.objective());
        }
    }

    @Test
    void prunerAccumulatesTheGramOverBatchesAndPrunesOnce() {
        AlpsLeastSquares p = AlpsLeastSquares.correlated(3, 8, 16, 96);
        try (Arena arena = Arena.ofConfined()) {
            Tensor expected = p.weightTensor(arena);
            Alps.Result direct = Alps.prune(
                    expected,
                    p.gramTensor(arena, ops),
                    p.tokens,
                    SparsityPattern.UNSTRUCTURED,
                    0.5,
                    Alps.Options.defaults(),
                    ops);
            AlpsPruner pruner = new AlpsPruner(Alps.Options.defaults());
            Tensor x = p.inputs(arena);
            for (int r = 0; r < p.tokens; r += 16) {
                pruner.addBatch(x.rowSlice(r, r + 16), ops);
            }
            assertEquals(96, pruner.tokens());
            Tensor w = p.weightTensor(arena);
            LinearPruner.PruneOutcome outcome = pruner.prune(w, SparsityPattern.UNSTRUCTURED, 0.5, ops);
            assertEquals(direct.outcome(), outcome);
            float[] a = w.toFloatArray();
            float[] b = expected.toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertEquals(b[i], a[i], 0f, "weight " + i);
            }
            assertEquals(direct.objective(), pruner.lastResult().objective(), 0.0);
            assertThrows(IllegalStateException.class, () -> pruner.prune(w, SparsityPattern.UNSTRUCTURED, 0.5, ops));
            assertThrows(IllegalStateException.class, () -> pruner.addBatch(x.rowSlice(0, 16), ops));
        }
    }

    @Test
    void rejectsMismatchedShapesAndMissingCalibration() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.allocate(arena, DType.F32, 4, 6);
            Tensor gram = Tensor.allocate(arena, DType.F32, 5, 5);
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> Alps.prune(w, gram, 10, SparsityPattern.UNSTRUCTURED, 0.5, Alps.Options.defaults(), ops));
            assertTrue(e.getMessage().contains("expected (6, 6)"), e.getMessage());
            Tensor square = Tensor.allocate(arena, DType.F32, 6, 6);
            e = assertThrows(
                    IllegalArgumentException.class,
                    () -> Alps.prune(w, square, 10, SparsityPattern.UNSTRUCTURED, 0.5, Alps.Options.defaults(), ops));
            assertTrue(e.getMessage().contains("no calibration signal"), e.getMessage());
            assertThrows(
                    IllegalStateException.class,
                    () -> new AlpsPruner().prune(w, SparsityPattern.UNSTRUCTURED, 0.5, ops));
        }
    }

    /** The smallest refit error over every support of size k = round((1 − sparsity) · out · in) of the whole matrix. */
    private static double bruteForceOptimum(AlpsLeastSquares p, double sparsity, double[][] h) {
        int n = p.out * p.in;
        int k = (int) Math.round((1 - sparsity) * n);
        double best = Double.MAX_VALUE;
        boolean[] keep = new boolean[n];
        for (int mask = 0; mask < (1 << n); mask++) {
            if (Integer.bitCount(mask) != k) {
                continue;
            }
            for (int i = 0; i < n; i++) {
                keep[i] = (mask >> i & 1) != 0;
            }
            best = Math.min(best, p.refitError(keep, h));
        }
        return best;
    }

    /**
     * The smallest refit error over every N:M support: rows are independent, so each row's best support is enumerated
     * on its own (every choice of N kept among each group of M).
     */
    private static double bruteForceNmOptimum(AlpsLeastSquares p, SparsityPattern pattern, double[][] h) {
        int m = pattern.group();
        List<Integer> groupChoices = new ArrayList<>();
        for (int mask = 0; mask < (1 << m); mask++) {
            if (Integer.bitCount(mask) == pattern.keep()) {
                groupChoices.add(mask);
            }
        }
        int groups = p.in / m;
        int supports = (int) Math.pow(groupChoices.size(), groups);
        boolean[] keep = new boolean[p.out * p.in];
        double total = 0;
        for (int r = 0; r < p.out; r++) {
            double best = Double.MAX_VALUE;
            for (int code = 0; code < supports; code++) {
                int rest = code;
                for (int g = 0; g < groups; g++) {
                    int mask = groupChoices.get(rest % groupChoices.size());
                    rest /= groupChoices.size();
                    for (int j = 0; j < m; j++) {
                        keep[r * p.in + g * m + j] = (mask >> j & 1) != 0;
                    }
                }
                best = Math.min(best, p.rowRefitError(r, keep, h));
            }
            total += best;
        }
        return total;
    }

    /** Row {@code row} of the refit on a's support: H[S,S] ŵ_S = (H w)_S by ReferenceOps Cholesky and two solves. */
    private double[] directSolve(Arena arena, AlpsLeastSquares p, double[][] h, float[] a, int row) {
        List<Integer> support = new ArrayList<>();
        for (int i = 0; i < p.in; i++) {
            if (a[row * p.in + i] != 0f) {
                support.add(i);
            }
        }
        int m = support.size();
        Tensor lhs = Tensor.allocate(arena, DType.F64, m, m);
        Tensor rhs = Tensor.allocate(arena, DType.F64, m, 1);
        for (int s = 0; s < m; s++) {
            int i = support.get(s);
            for (int t = 0; t < m; t++) {
                lhs.set(s, t, h[i][support.get(t)]);
            }
            double c = 0;
            for (int j = 0; j < p.in; j++) {
                c += h[i][j] * p.weight[row * p.in + j];
            }
            rhs.set(s, 0, c);
        }
        ops.cholesky(lhs);
        ops.solveLowerTriangular(lhs, false, rhs);
        ops.solveLowerTriangular(lhs, true, rhs);
        double[] full = new double[p.in];
        for (int s = 0; s < m; s++) {
            full[support.get(s)] = rhs.getDouble(s, 0);
        }
        return full;
    }

    private static int nonzeros(float[] a) {
        int n = 0;
        for (float v : a) {
            n += v != 0f ? 1 : 0;
        }
        return n;
    }

    private static int count(boolean[] keep) {
        int n = 0;
        for (boolean b : keep) {
            n += b ? 1 : 0;
        }
        return n;
    }
}
