package dev.espalier.engine.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.prune.Alps;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.cpu.CpuOps;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AlpsBenchmarkTest {

    @Test
    void timesGramAndSolveAndCountsFlopsByTheModel() {
        try (CpuOps ops = new CpuOps(1)) {
            AlpsBenchmark.Result r = AlpsBenchmark.run(new LinearShape(48, 64), 0.7, 2, 128, 2, ops);
            assertEquals(256, r.tokens());
            assertEquals(2.0 * 256 * 64 * 64, r.gramFlops(), 0.0);
            Alps.Result s = r.solve();
            int gemms = 2 * s.iterations() + s.restarts() + 5 + s.cgIterations() + 1;
            assertEquals(14.0 / 3.0 * 64 * 64 * 64 + gemms * 2.0 * 48 * 64 * 64, r.solveFlops(), 1.0);
            assertTrue(r.gramSeconds() > 0 && r.solveSeconds() > 0, "timed");
            long k = Math.round(0.3 * 48 * 64);
            assertTrue(s.outcome().total() - s.outcome().zeros() <= k, "at most k nonzeros");
            assertTrue(s.objective() > 0 && s.objective() < 1, "relative error " + s.objective());
        }
    }

    @Test
    void ablationRunsScheduleAndBothFixedRhosWithoutTouchingTheWeight() {
        try (Arena arena = Arena.ofConfined();
                CpuOps ops = new CpuOps(1)) {
            SplittableRandom random = new SplittableRandom(5);
            float[] w = new float[24 * 32];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) random.nextGaussian();
            }
            float[] x = new float[200 * 32];
            for (int t = 0; t < 200; t++) {
                double common = random.nextGaussian();
                for (int j = 0; j < 32; j++) {
                    x[t * 32 + j] = (float) (random.nextGaussian() + 0.7 * common);
                }
            }
            Tensor weight = Tensor.ofFloats(arena, w, 24, 32);
            Tensor gram = Tensor.allocate(arena, DType.F32, 32, 32);
            ops.accumulateGram(Tensor.ofFloats(arena, x, 200, 32), 1f, gram);
            List<AlpsBenchmark.AblationRun> runs =
                    AlpsBenchmark.ablation(weight, gram, 200, SparsityPattern.UNSTRUCTURED, 0.6, ops);
            assertEquals(
                    List.of("schedule", "rho=0.3", "rho=3"),
                    runs.stream().map(AlpsBenchmark.AblationRun::label).toList());
            assertEquals(0.1, runs.get(0).result().trace().get(0).rho(), 0.0);
            for (AlpsBenchmark.AblationRun run : runs.subList(1, 3)) {
                for (Alps.Iteration it : run.result().trace()) {
                    assertEquals(run.fixedRho(), it.rho(), 0.0, run.label() + " iteration " + it.iteration());
                }
            }
            float[] after = weight.toFloatArray();
            for (int i = 0; i < w.length; i++) {
                assertEquals(w[i], after[i], 0f, "weight " + i + " untouched");
            }
        }
    }
}
