package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.cpu.CpuOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link GramStatistics} and {@link ReconstructionError}, the pieces SparseGPT shares with ALPS. */
class SparseGptGramAndErrorTest {

    @Test
    void gramSumsEveryBatchAndCountsTokens() {
        try (Arena arena = Arena.ofConfined();
                CpuOps cpu = new CpuOps(2)) {
            Tensor x = SparseGptFixtures.gaussian(arena, new Random(1), 90, 20);
            double[] expected = SparseGptFixtures.gram(x);
            for (TensorOps ops : new TensorOps[] {new ReferenceOps(), cpu}) {
                GramStatistics stats = new GramStatistics(20);
                stats.add(x.rowSlice(0, 31), ops);
                stats.add(x.rowSlice(31, 90), ops);
                assertEquals(90, stats.tokens());
                assertEquals(20, stats.dim());
                Tensor g = stats.gram();
                for (int i = 0; i < 20; i++) {
                    for (int j = 0; j < 20; j++) {
                        assertEquals(
                                expected[i * 20 + j],
                                g.getDouble(i, j),
                                1e-4 * (1 + Math.abs(expected[i * 20 + j])),
                                ops.name() + " H[" + i + "][" + j + "]");
                    }
                }
                stats.close();
                assertTrue(stats.isClosed());
                assertThrows(IllegalStateException.class, stats::gram);
                assertThrows(IllegalArgumentException.class, () -> new GramStatistics(21).add(x, ops));
            }
        }
    }

    @Test
    void quadraticTraceByColumnBlocksEqualsTheTrace() {
        try (Arena arena = Arena.ofConfined();
                CpuOps cpu = new CpuOps(2)) {
            Random random = new Random(5);
            int out = 11;
            int in = 23;
            Tensor m = SparseGptFixtures.gaussian(arena, random, out, in);
            Tensor x = SparseGptFixtures.correlatedInputs(arena, 4, 60, in);
            double[] h = SparseGptFixtures.gram(x);
            double expected = 0; // Σ_r m_r H m_rᵀ in f64
            for (int r = 0; r < out; r++) {
                for (int i = 0; i < in; i++) {
                    for (int j = 0; j < in; j++) {
                        expected += m.getDouble(r, i) * h[i * in + j] * m.getDouble(r, j);
                    }
                }
            }
            Tensor f64 = Tensor.ofDoubles(arena, h, in, in);
            Tensor f32 = Tensor.allocate(arena, DType.F32, in, in);
            for (int i = 0; i < in * in; i++) {
                f32.set(i / in, i % in, h[i]);
            }
            for (int width : new int[] {1, 5, 8, 23, 512}) {
                Tensor scratch = Tensor.allocate(arena, DType.F32, in, Math.min(width, in));
                for (TensorOps ops : new TensorOps[] {new ReferenceOps(), cpu}) {
                    for (Tensor gram : new Tensor[] {f64, f32}) {
                        assertEquals(
                                expected,
                                ReconstructionError.quadraticTrace(m, gram, scratch, ops),
                                1e-5 * Math.abs(expected),
                                "width " + width + ", " + ops.name() + ", " + gram.dtype());
                    }
                }
            }
        }
    }

    @Test
    void relativeErrorEqualsTheDirectOneOnExplicitInputs() {
        try (Arena arena = Arena.ofConfined();
                CpuOps cpu = new CpuOps(2)) {
            Random random = new Random(2);
            int n = 70;
            int in = 24;
            int out = 9;
            Tensor x = SparseGptFixtures.correlatedInputs(arena, 3, n, in);
            Tensor w = SparseGptFixtures.gaussian(arena, random, out, in);
            Tensor pruned = SparseGptFixtures.copy(arena, w);
            for (int r = 0; r < out; r++) {
                for (int c = 0; c < in; c++) {
                    if (random.nextBoolean()) {
                        pruned.set(r, c, 0.0);
                    } else {
                        pruned.set(r, c, w.get(r, c) + 0.1 * random.nextGaussian());
                    }
                }
            }
            double numerator = 0;
            double denominator = 0;
            for (int t = 0; t < n; t++) {
                for (int r = 0; r < out; r++) {
                    double y = 0;
                    double yHat = 0;
                    for (int c = 0; c < in; c++) {
                        y += x.getDouble(t, c) * w.getDouble(r, c);
                        yHat += x.getDouble(t, c) * pruned.getDouble(r, c);
                    }
                    numerator += (y - yHat) * (y - yHat);
                    denominator += y * y;
                }
            }
            double direct = numerator / denominator;
            for (TensorOps ops : new TensorOps[] {new ReferenceOps(), cpu}) {
                try (GramStatistics stats = new GramStatistics(in)) {
                    stats.add(x, ops);
                    double viaGram = ReconstructionError.relative(w, pruned, stats.gram(), ops);
                    assertEquals(direct, viaGram, 1e-4 * direct, ops.name());
                }
            }
            Tensor f64Gram = Tensor.ofDoubles(arena, SparseGptFixtures.gram(x), in, in);
            assertEquals(direct, ReconstructionError.relative(w, pruned, f64Gram, cpu), 1e-4 * direct, "F64 gram");
            assertEquals(0.0, ReconstructionError.relative(w, w, f64Gram, cpu), 0.0, "unchanged weights");
            assertThrows(
                    IllegalArgumentException.class,
                    () -> ReconstructionError.relative(
                            w, Tensor.allocate(arena, DType.F32, out, in + 1), f64Gram, cpu));
        }
    }
}
