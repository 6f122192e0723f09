package dev.espalier.engine.prune.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class MetricInitialisationTest {

    private static double sigmoid(double z) {
        return 1 / (1 + Math.exp(-z));
    }

    @Test
    void sigmapStandardisesWithTheUnbiasedStdThenShiftsTheMeanToTheKeepRatio() {
        double[] x = {1, 2, 3, 6};
        // mean 3, unbiased variance (4 + 1 + 0 + 9)/3 = 14/3
        double std = Math.sqrt(14.0 / 3);
        double[] sig = new double[4];
        double m = 0;
        for (int i = 0; i < 4; i++) {
            sig[i] = sigmoid((x[i] - 3) / (std + 1e-8));
            m += sig[i] / 4;
        }
        double[] expected = new double[4];
        for (int i = 0; i < 4; i++) {
            expected[i] = sig[i] + 0.6 - m;
        }
        assertArrayEquals(expected, ScoreMapping.SIGMAP.map(x, 0.6), 1e-12);
        // Scale-invariant, so any positive multiple of the Wanda statistic gives the same start.
        assertArrayEquals(
                expected,
                ScoreMapping.SIGMAP.map(new double[] {10, 20, 30, 60}, 0.6),
                1e-8); // up to the 1e-8 added to the std
    }

    @Test
    void sigmapClampsToTheUnitInterval() {
        double[] p = ScoreMapping.SIGMAP.map(new double[] {0, 0, 0, 100}, 0.95);
        for (double v : p) {
            assertEquals(Math.min(1, Math.max(0, v)), v, 0.0);
        }
        assertEquals(1.0, p[3], 0.0);
    }

    @Test
    void normIsMinMaxThenMeanShift() {
        double[] p = ScoreMapping.NORM.map(new double[] {2, 4, 6}, 0.5);
        // (0, 0.5, 1) up to the 1e-8 in the denominator; already mean 0.5
        assertArrayEquals(new double[] {0, 0.5, 1}, p, 1e-8);
    }

    @Test
    void wandaSpScoresHeadsByOProjColumnsAndGroupsThemByKeyValueHead() {
        // hidden 2, 4 query heads of width 1 sharing 2 key/value heads (heads 0,1 → group 0; 2,3 → group 1).
        float[] oProj = {
            1, -2, 3, 0,
            3, 2, -1, 4
        };
        double[] squares = {4, 1, 9, 0.25};
        // column means of |W|: 2, 2, 2, 2; times sqrt(n): 4, 2, 6, 1 → groups (4+2)/2, (6+1)/2
        assertArrayEquals(
                new double[] {3, 3.5}, MetricInitialisation.wandaSpHeadScores(oProj, squares, 2, 4, 2, 1), 1e-12);
        // head width 2, one group per head: head scores are sums over their two columns.
        assertArrayEquals(
                new double[] {6, 7}, MetricInitialisation.wandaSpHeadScores(oProj, squares, 2, 2, 2, 2), 1e-12);
        assertArrayEquals(
                new double[] {4, 2, 6, 1}, MetricInitialisation.wandaSpChannelScores(oProj, squares, 2, 4), 1e-12);
    }

    @Test
    void fromScoresInitialisesEveryLayerAndKindSeparately() {
        UnitLayout layout = new UnitLayout(new int[] {2, 2}, new int[] {3, 3}, true);
        MetricInitialisation.UnitScores scores = new MetricInitialisation.UnitScores() {
            @Override
            public double[] heads(int layer) {
                return layer == 0 ? new double[] {1, 2} : new double[] {5, 1};
            }

            @Override
            public double[] channels(int layer) {
                return new double[] {layer, 0, 2};
            }
        };
        PolicyState s = MetricInitialisation.fromScores(layout, 9, scores, ScoreMapping.SIGMAP, 0.5, 0.6, 1.0);
        assertArrayEquals(ScoreMapping.SIGMAP.map(new double[] {5, 1}, 0.5), s.probabilities(UnitKind.HEAD, 1), 0.0);
        assertArrayEquals(
                ScoreMapping.SIGMAP.map(new double[] {0, 0, 2}, 0.6), s.probabilities(UnitKind.CHANNEL, 0), 0.0);
        assertArrayEquals(new double[] {1, 1}, s.probabilities(UnitKind.LAYER), 0.0);
        double[] h0 = s.probabilities(UnitKind.HEAD, 0);
        assertEquals(0.5, (h0[0] + h0[1]) / 2, 1e-12);
    }

    @Test
    void randomScoresAreSeededPerUnitAndMapToTheKeepRatioOnAverage() {
        UnitLayout layout = new UnitLayout(new int[] {4, 4, 2}, new int[] {64, 48, 32}, false);
        MetricInitialisation.UnitScores a = MetricInitialisation.randomScores(layout, 7);
        MetricInitialisation.UnitScores b = MetricInitialisation.randomScores(layout, 7);
        MetricInitialisation.UnitScores other = MetricInitialisation.randomScores(layout, 8);
        for (int l = 0; l < 3; l++) {
            assertArrayEquals(a.heads(l), b.heads(l), 0.0);
            assertArrayEquals(a.channels(l), b.channels(l), 0.0);
            assertEquals(layout.units(UnitKind.HEAD, l), a.heads(l).length);
            assertEquals(layout.units(UnitKind.CHANNEL, l), a.channels(l).length);
        }
        assertFalse(Arrays.equals(a.channels(0), other.channels(0)), "another seed, other scores");
        assertFalse(Arrays.equals(a.channels(0), a.channels(1)), "each layer its own draws");
        PolicyState state = MetricInitialisation.fromScores(layout, 7, a, ScoreMapping.SIGMAP, 0.5, 0.5, 1);
        for (int l = 0; l < 3; l++) {
            double[] p = state.probabilities(UnitKind.CHANNEL, l);
            assertEquals(0.5, Arrays.stream(p).average().orElseThrow(), 1e-9, "mean keep-probability of layer " + l);
            assertTrue(
                    Arrays.stream(p).max().orElseThrow()
                                    - Arrays.stream(p).min().orElseThrow()
                            > 0.2,
                    "spread like a metric's, not uniform");
        }
    }
}
