package dev.espalier.engine.prune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class OwlAllocationTest {
    private static final OwlAllocation OFFICIAL = new OwlAllocation(5, 0.08);

    @Test
    void evenlySpreadRatiosMapAsTheOfficialCodeDoes() {
        // official: r = (D − 1) / 4 · 0.16 = 0, .04, .08, .12, .16; r − mean(r) + 0.3 = keep; sparsity = 1 − keep
        double[] s = OFFICIAL.sparsities(new double[] {1, 2, 3, 4, 5}, 0.7);
        assertArrayEquals(new double[] {0.78, 0.74, 0.70, 0.66, 0.62}, s, 1e-12);
    }

    @Test
    void ratesAverageToTheTargetAndSpanTwoLambda() {
        Random random = new Random(7);
        for (int trial = 0; trial < 50; trial++) {
            int layers = 2 + random.nextInt(30);
            double[] ratios = new double[layers];
            for (int l = 0; l < layers; l++) {
                ratios[l] = random.nextDouble() * 0.05;
            }
            double target = 0.3 + 0.5 * random.nextDouble();
            double lambda = 0.1 * random.nextDouble();
            double[] s = new OwlAllocation(5, lambda).sparsities(ratios, target);
            double mean = 0;
            double min = 1;
            double max = 0;
            int most = 0;
            for (int l = 0; l < layers; l++) {
                mean += s[l] / layers;
                min = Math.min(min, s[l]);
                max = Math.max(max, s[l]);
                most = ratios[l] > ratios[most] ? l : most;
                double bound = 2 * lambda * (layers - 1) / layers + 1e-12;
                assertTrue(Math.abs(s[l] - target) <= bound, "layer " + l + ": " + s[l] + " vs " + target);
            }
            assertEquals(target, mean, 1e-12);
            assertEquals(2 * lambda, max - min, 1e-12);
            assertEquals(min, s[most], 0, "the layer with the most outliers is pruned least");
        }
    }

    @Test
    void ratesLieWithinTargetPlusMinusLambdaWhenTheRatiosAreSymmetric() {
        double[] s = OFFICIAL.sparsities(new double[] {0.01, 0.03, 0.02, 0.05, 0.04, 0.03}, 0.5);
        for (double r : s) {
            assertTrue(r >= 0.5 - 0.08 - 1e-12 && r <= 0.5 + 0.08 + 1e-12, Double.toString(r));
        }
    }

    @Test
    void equalRatiosGiveEveryLayerTheTarget() {
        assertArrayEquals(new double[] {0.6, 0.6, 0.6}, OFFICIAL.sparsities(new double[] {0.02, 0.02, 0.02}, 0.6), 0);
    }

    @Test
    void aRateOutsideZeroOneIsRefused() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> OFFICIAL.sparsities(new double[] {0, 1}, 0.95));
        assertTrue(e.getMessage().contains("layer 0 would get sparsity"), e.getMessage());
    }

    @Test
    void badHyperParametersAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new OwlAllocation(0, 0.08));
        assertThrows(IllegalArgumentException.class, () -> new OwlAllocation(5, -0.01));
        assertThrows(IllegalArgumentException.class, () -> new OwlAllocation(Double.NaN, 0.08));
    }

    @Test
    void outlierRatioIsOverTheWholeLayersMetric() {
        try (Arena arena = Arena.ofConfined()) {
            // every metric entry 1 but one of 100: the layer mean is (N − 1 + 100) / N, and only that entry exceeds 5×
            DecoderLayerWeights w = layer(arena, new Random(1), true);
            Map<LinearModule.Input, double[]> norms = norms(w, null);
            w.down().set(1, 2, 100);
            long n = entries(w);
            assertEquals(1.0 / n, OFFICIAL.outlierRatio(w, norms::get), 0);
            // a whole map 100× larger: against the layer's mean (not its own, as per matrix) all its entries are
            // outliers
            for (int r = 0; r < w.o().rows(); r++) {
                for (int c = 0; c < w.o().cols(); c++) {
                    w.o().set(r, c, 100);
                }
            }
            assertEquals((double) (w.o().numel() + 1) / n, OFFICIAL.outlierRatio(w, norms::get), 0);
        }
    }

    @Test
    void outlierRatioMatchesBruteForce() {
        Random random = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 5; trial++) {
                DecoderLayerWeights w = layer(arena, random, false);
                Map<LinearModule.Input, double[]> norms = norms(w, random);
                for (double m : new double[] {1, 2, 3, 5}) {
                    assertEquals(bruteForce(w, norms, m), new OwlAllocation(m, 0.08).outlierRatio(w, norms::get), 0);
                }
            }
        }
    }

    @Test
    void theJobSpecsOwlMethodScoresGloballyAndGivesEachLayerItsRate() {
        JobSpec.Builder spec = JobSpec.newBuilder()
                .setMethod(PruneMethod.PRUNE_METHOD_WANDA)
                .setSparsity(0.7)
                .setPattern(dev.espalier.protocol.v1.SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED);
        assertFalse(PruneMethods.layerMethod(spec.build(), false, null).scoresGlobally(), "uniform by default");
        spec.setUnstructured(UnstructuredSettings.newBuilder()
                .setLayerSparsity(UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_OWL));
        LayerMethod method = PruneMethods.layerMethod(spec.build(), false, null);
        assertTrue(method.scoresGlobally());
        assertEquals(OFFICIAL, ((UnstructuredMethod) method).owl(), "the official defaults M 5, λ 0.08");
        List<LayerAllocation> a = method.allocate(List.of(
                LayerScores.outliers(0, 1),
                LayerScores.outliers(1, 2),
                LayerScores.outliers(2, 3),
                LayerScores.outliers(3, 4),
                LayerScores.outliers(4, 5)));
        double[] expected = {0.78, 0.74, 0.70, 0.66, 0.62};
        for (int l = 0; l < 5; l++) {
            assertEquals(l, a.get(l).layer());
            assertEquals(expected[l], a.get(l).sparsity(), 1e-12);
        }
    }

    private static double bruteForce(DecoderLayerWeights w, Map<LinearModule.Input, double[]> norms, double m) {
        List<Double> metric = new ArrayList<>();
        for (LinearModule module : LinearModule.values()) {
            Tensor t = module.weight(w);
            double[] n = norms.get(module.input());
            for (int r = 0; r < t.rows(); r++) {
                for (int c = 0; c < t.cols(); c++) {
                    metric.add(Math.abs(t.getDouble(r, c)) * Math.sqrt(n[c]));
                }
            }
        }
        double mean = metric.stream().mapToDouble(Double::doubleValue).sum() / metric.size();
        return (double) metric.stream().filter(a -> a > m * mean).count() / metric.size();
    }

    private static long entries(DecoderLayerWeights w) {
        long n = 0;
        for (LinearModule module : LinearModule.values()) {
            n += module.weight(w).numel();
        }
        return n;
    }

    /** Squared input norms: random (heavy-tailed) with {@code random}, else all 1. */
    private static Map<LinearModule.Input, double[]> norms(DecoderLayerWeights w, Random random) {
        Map<LinearModule.Input, double[]> norms = new EnumMap<>(LinearModule.Input.class);
        for (LinearModule module : LinearModule.values()) {
            norms.computeIfAbsent(module.input(), i -> {
                double[] n = new double[module.weight(w).cols()];
                for (int j = 0; j < n.length; j++) {
                    n[j] = random == null ? 1 : Math.exp(2 * random.nextGaussian());
                }
                return n;
            });
        }
        return norms;
    }

    /** hidden 3, 2 query heads of 2, 1 key/value head, FFN 5; weights all 1 ({@code ones}) or Gaussian. */
    private static DecoderLayerWeights layer(Arena arena, Random random, boolean ones) {
        return new DecoderLayerWeights(
                null,
                matrix(arena, random, ones, 4, 3),
                matrix(arena, random, ones, 2, 3),
                matrix(arena, random, ones, 2, 3),
                matrix(arena, random, ones, 3, 4),
                null,
                null,
                null,
                null,
                null,
                matrix(arena, random, ones, 5, 3),
                matrix(arena, random, ones, 5, 3),
                matrix(arena, random, ones, 3, 5),
                null,
                null,
                null);
    }

    private static Tensor matrix(Arena arena, Random random, boolean ones, int rows, int cols) {
        Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t.set(r, c, ones ? 1 : random.nextGaussian());
            }
        }
        return t;
    }
}
