package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SparseGptTest {
    private static final SparsityPattern TWO_FOUR = new SparsityPattern(2, 4);
    private static final SparsityPattern FOUR_EIGHT = new SparsityPattern(4, 8);
    private static final TensorOps REFERENCE = new ReferenceOps();
    private static CpuOps cpu;

    @BeforeAll
    static void startCpu() {
        cpu = new CpuOps(2);
    }

    @AfterAll
    static void stopCpu() {
        cpu.close();
    }

    /** Prunes a copy of {@code w} by SparseGPT on the Gram of {@code x}; returns the pruned copy. */
    private static Tensor sparseGpt(
            Arena arena,
            Tensor x,
            Tensor w,
            SparsityPattern pattern,
            double sparsity,
            SparseGpt.Options options,
            TensorOps ops) {
        Tensor pruned = SparseGptFixtures.copy(arena, w);
        try (SparseGptPruner pruner = new SparseGptPruner(options)) {
            pruner.addBatch(x.rowSlice(0, x.rows() / 2), ops);
            pruner.addBatch(x.rowSlice(x.rows() / 2, x.rows()), ops);
            pruner.prune(pruned, pattern, sparsity, ops);
        }
        return pruned;
    }

    private static double error(Tensor original, Tensor pruned, Tensor x, TensorOps ops) {
        try (GramStatistics g = new GramStatistics(x.cols())) {
            g.add(x, ops);
            return ReconstructionError.relative(original, pruned, g.gram(), ops);
        }
    }

    @Test
    void trailingPartialGroupKeepsItsShareOfN() {
        try (Arena arena = Arena.ofConfined()) {
            int out = 6;
            int in = 44; // five groups of 8 and a trailing group of 4 under 4:8 (as stories260K's FFN width 172)
            Tensor x = SparseGptFixtures.correlatedInputs(arena, 5, 200, in);
            Tensor pruned = SparseGptFixtures.gaussian(arena, new Random(12), out, in);
            SparseGptPruner pruner = new SparseGptPruner(new SparseGpt.Options(32, 0.01));
            pruner.addBatch(x, cpu);
            LinearPruner.PruneOutcome outcome = pruner.prune(pruned, FOUR_EIGHT, Double.NaN, cpu);
            for (int r = 0; r < out; r++) {
                int tail = 0;
                for (int c = 40; c < 44; c++) {
                    tail += pruned.get(r, c) != 0f ? 1 : 0;
                }
                assertEquals(2, tail, "row " + r + ": the trailing group of 4 keeps 2");
            }
            assertEquals((long) out * in / 2, outcome.zeros());
        }
    }

    @Test
    void nmGroupsHoldExactlyNNonzeros() {
        for (SparsityPattern pattern : new SparsityPattern[] {TWO_FOUR, FOUR_EIGHT}) {
            try (Arena arena = Arena.ofConfined()) {
                Random random = new Random(11);
                int out = 24;
                int in = 96;
                Tensor x = SparseGptFixtures.correlatedInputs(arena, 5, 200, in);
                Tensor w = SparseGptFixtures.gaussian(arena, random, out, in);
                Tensor pruned = SparseGptFixtures.copy(arena, w);
                SparseGptPruner pruner = new SparseGptPruner(new SparseGpt.Options(32, 0.01));
                pruner.addBatch(x, cpu);
                LinearPruner.PruneOutcome outcome = pruner.prune(pruned, pattern, Double.NaN, cpu);
                int m = pattern.group();
                for (int r = 0; r < out; r++) {
                    for (int g = 0; g < in; g += m) {
                        int nonzeros = 0;
                        for (int c = g; c < g + m; c++) {
                            nonzeros += pruned.get(r, c) != 0f ? 1 : 0;
                        }
                        assertEquals(pattern.keep(), nonzeros, pattern + " row " + r + " group " + g);
                    }
                }
                assertEquals((long) out * in * (m - pattern.keep()) / m, outcome.zeros(), pattern.toString());
                assertEquals((long) out * in, outcome.total());
            }
        }
    }

    @Test
    void unstructuredDropsExactlyTheRequestedCountPerBlock() {
        try (Arena arena = Arena.ofConfined()) {
            Random random = new Random(12);
            int out = 13;
            int in = 200; // blocks of 128 and 72; panels of 32 and a last one of 8
            Tensor x = SparseGptFixtures.correlatedInputs(arena, 6, 300, in);
            Tensor w = SparseGptFixtures.gaussian(arena, random, out, in);
            for (double sparsity : new double[] {0.5, 0.3, 0.77}) {
                Tensor pruned = SparseGptFixtures.copy(arena, w);
                SparseGptPruner pruner = new SparseGptPruner();
                pruner.addBatch(x, cpu);
                LinearPruner.PruneOutcome outcome = pruner.prune(pruned, SparsityPattern.UNSTRUCTURED, sparsity, cpu);
                long expected = (long) (out * 128 * sparsity) + (long) (out * 72 * sparsity);
                long zeros = 0;
                for (float v : pruned.toFloatArray()) {
                    zeros += v == 0f ? 1 : 0;
                }
                assertEquals(expected, zeros, "zeros at sparsity " + sparsity);
                assertEquals(expected, outcome.zeros(), "reported zeros at sparsity " + sparsity);
            }
        }
    }

    @Test
    void zeroSparsityLeavesTheWeightsUnchanged() {
        try (Arena arena = Arena.ofConfined()) {
            Random random = new Random(13);
            Tensor x = SparseGptFixtures.correlatedInputs(arena, 7, 150, 80);
            Tensor w = SparseGptFixtures.gaussian(arena, random, 10, 80);
            Tensor pruned =
                    sparseGpt(arena, x, w, SparsityPattern.UNSTRUCTURED, 0.0, new SparseGpt.Options(32, 0.01), cpu);
            // No weight is marked, so every err is exactly 0 and every update subtracts exact zeros.
            assertArrayEquals(w.toFloatArray(), pruned.toFloatArray(), 0f);
        }
    }

    @Test
    void deadInputsZeroTheirColumns() {
        try (Arena arena = Arena.ofConfined()) {
            Random random = new Random(14);
            Tensor x = SparseGptFixtures.correlatedInputs(arena, 8, 100, 16);
            for (int r = 0; r < x.rows(); r++) {
                x.set(r, 5, 0.0);
            }
            Tensor w = SparseGptFixtures.gaussian(arena, random, 4, 16);
            Tensor pruned =
                    sparseGpt(arena, x, w, SparsityPattern.UNSTRUCTURED, 0.0, SparseGpt.Options.defaults(), cpu);
            for (int r = 0; r < 4; r++) {
                assertEquals(0f, pruned.get(r, 5), "dead column, row " + r);
                assertEquals(w.get(r, 4), pruned.get(r, 4), 0f, "live column, row " + r);
            }
        }
    }

    @Test
    void beatsWandaAndMagnitudeOnCorrelatedInputs() {
        for (long seed = 1; seed <= 3; seed++) {
            for (SparsityPattern pattern : new SparsityPattern[] {SparsityPattern.UNSTRUCTURED, TWO_FOUR}) {
                try (Arena arena = Arena.ofConfined()) {
                    int in = 128;
                    Tensor x = SparseGptFixtures.correlatedInputs(arena, 100 + seed, 512, in);
                    Tensor w = SparseGptFixtures.gaussian(arena, new Random(seed), 32, in);
                    double sparsity = pattern.isNm() ? Double.NaN : 0.5;
                    Tensor ours = sparseGpt(arena, x, w, pattern, sparsity, SparseGpt.Options.defaults(), cpu);
                    Tensor wanda = SparseGptFixtures.copy(arena, w);
                    WandaPruner wandaPruner = new WandaPruner();
                    wandaPruner.addBatch(x, cpu);
                    wandaPruner.prune(wanda, pattern, sparsity, cpu);
                    Tensor magnitude = SparseGptFixtures.copy(arena, w);
                    new MagnitudePruner().prune(magnitude, pattern, sparsity, cpu);
                    double e = error(w, ours, x, cpu);
                    double eWanda = error(w, wanda, x, cpu);
                    double eMagnitude = error(w, magnitude, x, cpu);
                    String what = pattern + " seed " + seed + ": sparsegpt " + e + ", wanda " + eWanda + ", magnitude "
                            + eMagnitude;
                    assertTrue(e > 0 && e < eWanda && e < eMagnitude, what);
                }
            }
        }
    }

    /**
     * One weight removed from d = 4 inputs (25 %, one block). Removing column p, SparseGPT leaves the columns before p
     * as they are and updates the later ones by the OBS formula on U's row p, which is the exact least-squares refit
     * of the later columns with the earlier ones fixed; for p = 0 that is the full OBS refit on the support. Both are
     * checked against refits computed from an explicit X, and for the p = 0 case also against the brute-force optimum
     * over which weight to drop.
     */
    @Test
    void singleRemovalIsTheExactObsRefit() {
        float[][] weights = {
            {0.02f, 0.9f, -1.1f, 0.7f}, // column 0 is both SparseGPT's choice and the optimum
            {1.3f, -0.8f, 0.03f, 1.0f}, // column 2 is SparseGPT's choice
        };
        for (int t = 0; t < weights.length; t++) {
            try (Arena arena = Arena.ofConfined()) {
                Tensor x = SparseGptFixtures.gaussian(arena, new Random(21 + t), 64, 4);
                Tensor w = Tensor.ofFloats(arena, weights[t], 1, 4);
                Tensor pruned =
                        sparseGpt(arena, x, w, SparsityPattern.UNSTRUCTURED, 0.25, new SparseGpt.Options(4, 0.0), cpu);
                double[] h = SparseGptFixtures.gram(x);
                int removed = -1;
                for (int c = 0; c < 4; c++) {
                    if (pruned.get(0, c) == 0f) {
                        assertEquals(-1, removed, "case " + t + ": exactly one weight is removed");
                        removed = c;
                    }
                }
                assertEquals(t == 0 ? 0 : 2, removed, "case " + t + ": SparseGPT's choice");
                double[] refit = refitAfter(w.toFloatArray(), h, removed);
                for (int c = 0; c < 4; c++) {
                    assertEquals(refit[c], pruned.get(0, c), 1e-4, "case " + t + " weight " + c);
                }
                if (t == 0) {
                    int best = -1;
                    double bestError = Double.MAX_VALUE;
                    double[] bestWeights = null;
                    for (int p = 0; p < 4; p++) {
                        double[] candidate = refitOnSupport(w.toFloatArray(), h, p);
                        double e = quadratic(w.toFloatArray(), candidate, h);
                        if (e < bestError) {
                            bestError = e;
                            best = p;
                            bestWeights = candidate;
                        }
                    }
                    assertEquals(0, best, "brute-force optimum");
                    for (int c = 0; c < 4; c++) {
                        assertEquals(bestWeights[c], pruned.get(0, c), 1e-4, "optimum weight " + c);
                    }
                }
            }
        }
    }

    /** argmin over v with v_p = 0 and v_c = w_c for c &lt; p of (w − v)ᵀ H (w − v): refit of the columns after p. */
    private static double[] refitAfter(float[] w, double[] h, int p) {
        return refit(w, h, p, p + 1);
    }

    /** argmin over v with v_p = 0 of (w − v)ᵀ H (w − v): refit of every other column. */
    private static double[] refitOnSupport(float[] w, double[] h, int p) {
        return refit(w, h, p, 0);
    }

    /**
     * Free columns F = {c ≥ from, c ≠ p}; δ = v − w has δ_p = −w_p, δ = 0 on the other fixed columns, and
     * H_FF δ_F = −H_Fp δ_p, solved by the f64 inverse.
     */
    private static double[] refit(float[] w, double[] h, int p, int from) {
        int d = w.length;
        int[] free =
                java.util.stream.IntStream.range(from, d).filter(c -> c != p).toArray();
        int f = free.length;
        double[] hff = new double[f * f];
        for (int a = 0; a < f; a++) {
            for (int b = 0; b < f; b++) {
                hff[a * f + b] = h[free[a] * d + free[b]];
            }
        }
        double[] inv = SparseGptFixtures.inverse(hff, f);
        double[] v = new double[d];
        for (int c = 0; c < d; c++) {
            v[c] = w[c];
        }
        v[p] = 0;
        for (int a = 0; a < f; a++) {
            double delta = 0;
            for (int b = 0; b < f; b++) {
                delta += inv[a * f + b] * h[free[b] * d + p] * w[p];
            }
            v[free[a]] += delta;
        }
        return v;
    }

    private static double quadratic(float[] w, double[] v, double[] h) {
        int d = w.length;
        double sum = 0;
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                sum += (w[i] - v[i]) * h[i * d + j] * (w[j] - v[j]);
            }
        }
        return sum;
    }

    /** Blocks, panels, row chunks and GEMM updates reproduce the column-by-column algorithm (an f64 transcription). */
    @Test
    void matchesTheColumnByColumnAlgorithm() {
        Object[][] cases = { // pattern, sparsity, options, out, in
            {SparsityPattern.UNSTRUCTURED, 0.5, new SparseGpt.Options(128, 0.01), 12, 300
            }, // several inverse block rows
            {SparsityPattern.UNSTRUCTURED, 0.6, new SparseGpt.Options(48, 0.05), 12, 160},
            {SparsityPattern.UNSTRUCTURED, 0.5, new SparseGpt.Options(32, 0.01), 600, 64}, // several row chunks
            {TWO_FOUR, Double.NaN, SparseGpt.Options.defaults(), 12, 160},
            {TWO_FOUR, Double.NaN, new SparseGpt.Options(32, 0.01), 600, 64},
            {FOUR_EIGHT, Double.NaN, new SparseGpt.Options(16, 0.01), 12, 160},
            {new SparsityPattern(1, 3), Double.NaN, new SparseGpt.Options(48, 0.01), 70, 150}, // groups of 3: no GROUP
            {SparsityPattern.UNSTRUCTURED, 0.5, new SparseGpt.Options(36, 0.01), 130, 100}, // partial tiles and groups
        };
        for (Object[] c : cases) {
            SparsityPattern pattern = (SparsityPattern) c[0];
            double sparsity = (double) c[1];
            SparseGpt.Options options = (SparseGpt.Options) c[2];
            int out = (int) c[3];
            int in = (int) c[4];
            try (Arena arena = Arena.ofConfined()) {
                Tensor x = SparseGptFixtures.correlatedInputs(arena, 31, 400, in);
                Tensor w = SparseGptFixtures.gaussian(arena, new Random(32), out, in);
                Tensor pruned = sparseGpt(arena, x, w, pattern, sparsity, options, cpu);
                double[] expected = new double[out * in];
                float[] original = w.toFloatArray();
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = original[i];
                }
                SparseGptFixtures.fasterprune(
                        expected,
                        out,
                        SparseGptFixtures.gram(x),
                        x.rows(),
                        pattern,
                        sparsity,
                        options.blockSize(),
                        options.percDamp());
                float[] actual = pruned.toFloatArray();
                String what = pattern + " " + options + " " + out + "x" + in;
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i] == 0, actual[i] == 0f, what + ": mask at " + i);
                    assertEquals(expected[i], actual[i], 2e-4 * (1 + Math.abs(expected[i])), what + ": weight " + i);
                }
            }
        }
    }

    /** Row tiles are handed to whichever thread is free: the result must not depend on the thread count. */
    @Test
    void oneAndTwoThreadsGiveBitIdenticalWeights() {
        Object[][] cases = { // pattern, sparsity, options, out, in
            {SparsityPattern.UNSTRUCTURED, 0.5, SparseGpt.Options.defaults(), 300, 300},
            {TWO_FOUR, Double.NaN, SparseGpt.Options.defaults(), 200, 160},
            {FOUR_EIGHT, Double.NaN, new SparseGpt.Options(40, 0.01), 130, 120},
            {new SparsityPattern(1, 3), Double.NaN, new SparseGpt.Options(48, 0.01), 70, 150},
        };
        try (CpuOps one = new CpuOps(1)) {
            for (Object[] c : cases) {
                SparsityPattern pattern = (SparsityPattern) c[0];
                try (Arena arena = Arena.ofConfined()) {
                    Tensor x = SparseGptFixtures.correlatedInputs(arena, 41, 500, (int) c[4]);
                    Tensor w = SparseGptFixtures.gaussian(arena, new Random(42), (int) c[3], (int) c[4]);
                    SparseGpt.Options options = (SparseGpt.Options) c[2];
                    float[] serial = sparseGpt(arena, x, w, pattern, (double) c[1], options, one)
                            .toFloatArray();
                    float[] parallel = sparseGpt(arena, x, w, pattern, (double) c[1], options, cpu)
                            .toFloatArray();
                    assertArrayEquals(serial, parallel, 0f, pattern + " " + c[3] + "x" + c[4]);
                }
            }
        }
    }

    @Test
    void referenceAndCpuBackendsAgree() {
        for (SparsityPattern pattern : new SparsityPattern[] {SparsityPattern.UNSTRUCTURED, TWO_FOUR}) {
            try (Arena arena = Arena.ofConfined()) {
                Tensor x = SparseGptFixtures.correlatedInputs(arena, 41, 160, 72);
                Tensor w = SparseGptFixtures.gaussian(arena, new Random(42), 16, 72);
                double sparsity = pattern.isNm() ? Double.NaN : 0.5;
                SparseGpt.Options options = new SparseGpt.Options(24, 0.01);
                Tensor viaReference = sparseGpt(arena, x, w, pattern, sparsity, options, REFERENCE);
                Tensor viaCpu = sparseGpt(arena, x, w, pattern, sparsity, options, cpu);
                float[] a = viaReference.toFloatArray();
                float[] b = viaCpu.toFloatArray();
                for (int i = 0; i < a.length; i++) {
                    assertEquals(a[i] == 0f, b[i] == 0f, pattern + ": mask at " + i);
                    assertEquals(a[i], b[i], 1e-4, pattern + ": weight " + i);
                }
            }
        }
    }

    @Test
    void invertLowerGivesTheInverseAcrossBlockRows() {
        int n = 2 * SparseGpt.INVERSE_BLOCK + 88; // two full block rows and a partial one
        try (Arena arena = Arena.ofConfined()) {
            Random random = new Random(51);
            double[] l = new double[n * n];
            Tensor lower = Tensor.allocate(arena, dev.espalier.kernels.DType.F32, n, n);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j <= i; j++) {
                    float v = (float) (i == j ? 1 + random.nextDouble() : random.nextGaussian() / n);
                    l[i * n + j] = v;
                    lower.set(i, j, v);
                }
            }
            Tensor inverse = Tensor.allocate(arena, dev.espalier.kernels.DType.F32, n, n);
            SparseGpt.invertLower(lower, inverse, arena, cpu);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    for (int k = j; k <= i; k++) {
                        sum += l[i * n + k] * inverse.get(k, j);
                    }
                    assertEquals(i == j ? 1 : 0, sum, 1e-5, "(L · L⁻¹)[" + i + "][" + j + "]");
                    if (j > i) {
                        assertEquals(0f, inverse.get(i, j), "upper entry " + i + ", " + j);
                    }
                }
            }
        }
    }

    @Test
    void markSmallestDropsExactlyKWithTiesInIndexOrder() {
        float[] scores = {3f, 1f, 2f, 1f, 0f, 2f, 1f, 5f};
        float[] marks = new float[scores.length];
        SparseGpt.markSmallest(scores, scores.length, 3, marks);
        assertArrayEquals(new float[] {0, 1, 0, 1, 1, 0, 0, 0}, marks);
        SparseGpt.markSmallest(scores, scores.length, 5, marks);
        assertArrayEquals(new float[] {0, 1, 1, 1, 1, 0, 1, 0}, marks);
        SparseGpt.markSmallest(scores, scores.length, 0, marks);
        assertArrayEquals(new float[8], marks);
        Random random = new Random(3);
        float[] many = new float[5000];
        for (int i = 0; i < many.length; i++) {
            many[i] = random.nextFloat() * random.nextFloat() * 1e-3f;
        }
        float[] manyMarks = new float[many.length];
        SparseGpt.markSmallest(many, many.length, 1234, manyMarks);
        float[] sorted = many.clone();
        java.util.Arrays.sort(sorted);
        int count = 0;
        for (int i = 0; i < many.length; i++) {
            if (manyMarks[i] == 1f) {
                count++;
                assertTrue(many[i] <= sorted[1233], "marked score above the 1234th smallest");
            } else {
                assertEquals(0f, manyMarks[i]);
                assertTrue(many[i] >= sorted[1233], "kept score below the 1234th smallest");
            }
        }
        assertEquals(1234, count);
    }

    @Test
    void rejectsBadArguments() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = SparseGptFixtures.gaussian(arena, new Random(1), 20, 6);
            Supplier<SparseGptPruner> fed = () -> {
                SparseGptPruner p = new SparseGptPruner();
                p.addBatch(x, cpu);
                return p;
            };
            Tensor w = SparseGptFixtures.gaussian(arena, new Random(2), 3, 6);
            SparseGptPruner oddBlocks = new SparseGptPruner(new SparseGpt.Options(30, 0.01));
            oddBlocks.addBatch(x, cpu);
            assertThrows(
                    IllegalArgumentException.class,
                    () -> oddBlocks.prune(w, TWO_FOUR, Double.NaN, cpu),
                    "block size 30 is not a multiple of 4");
            assertThrows(
                    IllegalArgumentException.class, () -> fed.get().prune(w, SparsityPattern.UNSTRUCTURED, 1.0, cpu));
            assertThrows(
                    IllegalStateException.class,
                    () -> new SparseGptPruner().prune(w, SparsityPattern.UNSTRUCTURED, 0.5, cpu),
                    "no calibration data");
            SparseGptPruner once = fed.get();
            once.prune(w, SparsityPattern.UNSTRUCTURED, 0.5, cpu);
            assertThrows(
                    IllegalStateException.class,
                    () -> once.prune(w, SparsityPattern.UNSTRUCTURED, 0.5, cpu),
                    "statistics freed after the first prune");
            assertThrows(IllegalArgumentException.class, () -> new SparseGpt.Options(0, 0.01));
        }
    }
}
