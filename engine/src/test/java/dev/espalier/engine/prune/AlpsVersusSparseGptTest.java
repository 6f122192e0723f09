package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.cpu.CpuOps;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** On the same least-squares problems, ALPS's reconstruction error is never worse than SparseGPT's (its paper's claim). */
class AlpsVersusSparseGptTest {
    private static final CpuOps OPS = new CpuOps(1);

    @AfterAll
    static void close() {
        OPS.close();
    }

    @Test
    void alpsReconstructsAtLeastAsWellAsSparseGpt() {
        SparsityPattern[] patterns = {
            SparsityPattern.UNSTRUCTURED, SparsityPattern.UNSTRUCTURED, new SparsityPattern(2, 4)
        };
        double[] levels = {0.5, 0.7, Double.NaN};
        for (long seed = 1; seed <= 4; seed++) {
            for (int c = 0; c < patterns.length; c++) {
                try (Arena arena = Arena.ofConfined();
                        GramStatistics gram = new GramStatistics(48)) {
                    Tensor x = SparseGptFixtures.correlatedInputs(arena, seed, 400, 48);
                    gram.add(x, OPS);
                    Tensor original = SparseGptFixtures.gaussian(arena, new Random(seed), 24, 48);
                    Tensor bySparseGpt = SparseGptFixtures.copy(arena, original);
                    Tensor byAlps = SparseGptFixtures.copy(arena, original);
                    SparseGpt.prune(
                            bySparseGpt,
                            gram.gram(),
                            gram.tokens(),
                            patterns[c],
                            levels[c],
                            SparseGpt.Options.defaults(),
                            OPS);
                    Alps.prune(
                            byAlps, gram.gram(), gram.tokens(), patterns[c], levels[c], Alps.Options.defaults(), OPS);
                    double sparseGptError = ReconstructionError.relative(original, bySparseGpt, gram.gram(), OPS);
                    double alpsError = ReconstructionError.relative(original, byAlps, gram.gram(), OPS);
                    assertTrue(
                            alpsError <= sparseGptError,
                            "seed " + seed + ", " + patterns[c] + " " + levels[c] + ": ALPS " + alpsError
                                    + " vs SparseGPT " + sparseGptError);
                }
            }
        }
    }
}
