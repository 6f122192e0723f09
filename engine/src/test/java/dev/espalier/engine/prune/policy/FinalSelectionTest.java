package dev.espalier.engine.prune.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.prune.KeptUnits;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FinalSelectionTest {

    @Test
    void keepCountIsTheOfficialThresholdRank() {
        assertEquals(7, FinalSelection.keepCount(10, 0.7)); // 10 − ⌊3.0000000000000004⌋
        assertEquals(4, FinalSelection.keepCount(10, 0.35)); // 10 − ⌊6.5⌋
        assertEquals(0, FinalSelection.keepCount(10, 0.0));
        assertEquals(10, FinalSelection.keepCount(10, 1.0));
        assertEquals(16, FinalSelection.keepCount(20, 1 - 0.2)); // 20 − ⌊20 · 0.19999999999999996⌋ would keep 17
        assertEquals(246580, FinalSelection.keepCount(32 * 11008, 0.7));
    }

    @Test
    void topKMeetsTheBudgetExactlyEvenWhenEveryProbabilityTies() {
        SplittableRandom r = new SplittableRandom(11);
        for (int trial = 0; trial < 50; trial++) {
            int n = 1 + r.nextInt(300);
            double[] s = new double[n];
            for (int i = 0; i < n; i++) {
                s[i] = r.nextInt(3) / 2.0; // only 0, 0.5 and 1: heavy ties, as after projection
            }
            int k = r.nextInt(n + 1);
            boolean[] keep = FinalSelection.topK(s, k);
            int kept = 0;
            double minKept = Double.POSITIVE_INFINITY;
            double maxDropped = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                if (keep[i]) {
                    kept++;
                    minKept = Math.min(minKept, s[i]);
                } else {
                    maxDropped = Math.max(maxDropped, s[i]);
                }
            }
            assertEquals(k, kept);
            assertTrue(minKept >= maxDropped, "a dropped unit outranks a kept one");
        }
    }

    @Test
    void tiesBreakTowardsTheLowerIndex() {
        assertArrayEquals(
                new boolean[] {true, false, true, true, false},
                FinalSelection.topK(new double[] {0.5, 0.5, 1, 0.9, 0.5}, 3));
    }

    @Test
    void selectsGloballyAndReportsPerLayerIndices() {
        UnitLayout layout = new UnitLayout(new int[] {2, 2}, new int[] {3, 3}, true);
        PolicyState s = PolicyState.of(
                layout,
                1,
                new double[] {0.9, 0.1, 0.8, 0.7},
                new double[] {0.2, 1.0, 1.0, 0.0, 1.0, 0.3},
                new double[] {0.4, 0.6});
        List<LayerKeep> keep = FinalSelection.select(s, 3, 3, 1);
        assertArrayEquals(new int[] {0}, keep.get(0).kvGroups());
        assertArrayEquals(new int[] {0, 1}, keep.get(1).kvGroups());
        assertArrayEquals(new int[] {1, 2}, keep.get(0).channels());
        assertArrayEquals(new int[] {1}, keep.get(1).channels());
        assertFalse(keep.get(0).layerKept());
        assertTrue(keep.get(1).layerKept());

        KeptUnits units = keep.get(1).toKeptUnits(4);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, units.queryHeads());
        assertArrayEquals(new int[] {1}, units.channels());
        assertEquals(0, keep.get(0).toKeptUnits(4).queryHeads().length);
    }

    @Test
    void prunerFinalKeepMeetsEachBudgetExactly() {
        UnitLayout layout = new UnitLayout(new int[] {8, 8, 8}, new int[] {50, 70, 30}, false);
        SplittableRandom r = new SplittableRandom(3);
        double[] h = new double[24];
        double[] c = new double[150];
        for (int i = 0; i < h.length; i++) {
            h[i] = r.nextInt(2); // ties only
        }
        for (int i = 0; i < c.length; i++) {
            c[i] = r.nextDouble();
        }
        PolicyGradientPruner pruner = new PolicyGradientPruner(
                PolicyGradientConfig.official(10, 0.3, 1e-3), PolicyState.of(layout, 1, h, c, new double[0]));
        int heads = 0;
        int channels = 0;
        for (LayerKeep k : pruner.finalKeep()) {
            heads += k.kvGroups().length;
            channels += k.channels().length;
        }
        assertEquals(FinalSelection.keepCount(24, 0.3), heads);
        assertEquals(FinalSelection.keepCount(150, 0.3), channels);
        assertEquals(8, heads);
        assertEquals(45, channels);
    }

    @Test
    void uniformLayerRatesKeepTheSameFractionOfEveryLayer() {
        UnitLayout layout = new UnitLayout(new int[] {4, 4}, new int[] {10, 20}, false);
        // layer 0's probabilities all exceed layer 1's: global top-k would keep layer 0 whole
        PolicyState s = PolicyState.of(
                layout,
                1,
                new double[] {0.9, 0.95, 0.8, 0.85, 0.1, 0.3, 0.2, 0.3},
                java.util.stream.DoubleStream.iterate(1.0, x -> x - 0.01)
                        .limit(30)
                        .toArray(),
                new double[0]);
        List<LayerKeep> keep = FinalSelection.selectPerLayer(s, 0.5, 0.3, 1.0);
        assertArrayEquals(new int[] {0, 1}, keep.get(0).kvGroups());
        assertArrayEquals(new int[] {1, 3}, keep.get(1).kvGroups()); // tie 0.3 / 0.3: both kept, 0.2 and 0.1 not
        assertArrayEquals(new int[] {0, 1, 2}, keep.get(0).channels());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, keep.get(1).channels());
        List<LayerKeep> global = FinalSelection.select(s, 4, 9, 0);
        assertArrayEquals(new int[] {0, 1, 2, 3}, global.get(0).kvGroups());
        assertEquals(0, global.get(1).kvGroups().length);
    }

    @Test
    void prunerWithUniformLayerRatesProjectsAndSelectsEachLayerOnItsOwn() {
        UnitLayout layout = new UnitLayout(new int[] {8, 8, 8}, new int[] {50, 70, 30}, false);
        SplittableRandom r = new SplittableRandom(5);
        double[] h = new double[24];
        double[] c = new double[150];
        for (int i = 0; i < h.length; i++) {
            h[i] = i < 8 ? 1 : r.nextDouble() * 0.2; // layer 0 far above the others
        }
        for (int i = 0; i < c.length; i++) {
            c[i] = r.nextDouble() * (i < 50 ? 1 : 0.1);
        }
        PolicyGradientPruner pruner = new PolicyGradientPruner(
                PolicyGradientConfig.official(10, 0.3, 1e-3).withUniformLayerRates(true),
                PolicyState.of(layout, 1, h, c, new double[0]));
        pruner.project();
        double[] ph = pruner.state().probabilities(UnitKind.HEAD);
        double[] pc = pruner.state().probabilities(UnitKind.CHANNEL);
        int[] channelsPerLayer = {50, 70, 30};
        int from = 0;
        for (int layer = 0; layer < 3; layer++) {
            double heads = java.util.Arrays.stream(ph, 8 * layer, 8 * layer + 8).sum();
            assertTrue(heads <= 0.3 * 8 + BudgetProjection.OFFICIAL_TOLERANCE, "layer " + layer + " heads " + heads);
            double channels = java.util.Arrays.stream(pc, from, from + channelsPerLayer[layer])
                    .sum();
            assertTrue(channels <= 0.3 * channelsPerLayer[layer] + BudgetProjection.OFFICIAL_TOLERANCE);
            from += channelsPerLayer[layer];
        }
        assertEquals(0.3 * 8, java.util.Arrays.stream(ph, 0, 8).sum(), BudgetProjection.OFFICIAL_TOLERANCE);
        List<LayerKeep> keep = pruner.finalKeep();
        for (int layer = 0; layer < 3; layer++) {
            assertEquals(FinalSelection.keepCount(8, 0.3), keep.get(layer).kvGroups().length);
            assertEquals(
                    FinalSelection.keepCount(channelsPerLayer[layer], 0.3),
                    keep.get(layer).channels().length);
        }
    }
}
