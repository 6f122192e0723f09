package dev.espalier.engine.prune.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MaskTest {
    private static final UnitLayout LAYOUT = new UnitLayout(new int[] {4, 4}, new int[] {6, 6}, true);

    private static PolicyState state(long seed) {
        return PolicyState.of(
                LAYOUT,
                seed,
                new double[] {0, 1, 0.5, 0.25, 0.75, 0.5, 0.5, 0.5},
                new double[] {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 0, 0.5},
                new double[] {0.5, 0.9});
    }

    @Test
    void dependsOnSeedStepAndIndexOnly() {
        PolicyState s = state(42);
        Mask a = Mask.sample(s, 17, 3);
        Mask unrelated = Mask.sample(s, 5, 0); // drawing other masks in between changes nothing
        assertEquals(a, Mask.sample(s.copy(), 17, 3));
        assertEquals(a, Mask.sample(PolicyState.fromBytes(s.toBytes()), 17, 3));
        assertNotEquals(a, unrelated);
        assertNotEquals(Mask.rolloutKey(42, 17, 3), Mask.rolloutKey(42, 17, 4));
        assertNotEquals(Mask.rolloutKey(42, 17, 3), Mask.rolloutKey(42, 18, 3));
        assertNotEquals(Mask.rolloutKey(42, 17, 3), Mask.rolloutKey(43, 17, 3));
        assertNotEquals(Mask.rolloutKey(0, 1, 0), Mask.rolloutKey(0, 0, 1));
    }

    @Test
    void keepsEachUnitWithItsProbability() {
        PolicyState s = state(7);
        int draws = 40_000;
        int[] heads = new int[8];
        int[] channels = new int[12];
        int[] layers = new int[2];
        for (int t = 0; t < draws; t++) {
            Mask m = Mask.sample(s, t, t % 3);
            for (int i = 0; i < 8; i++) {
                heads[i] += m.head(i / 4, i % 4) ? 1 : 0;
            }
            for (int i = 0; i < 12; i++) {
                channels[i] += m.channel(i / 6, i % 6) ? 1 : 0;
            }
            for (int l = 0; l < 2; l++) {
                layers[l] += m.layer(l) ? 1 : 0;
            }
        }
        check(s.probabilities(UnitKind.HEAD), heads, draws);
        check(s.probabilities(UnitKind.CHANNEL), channels, draws);
        check(s.probabilities(UnitKind.LAYER), layers, draws);
        assertEquals(0, heads[0]);
        assertEquals(draws, heads[1]);
    }

    private static void check(double[] p, int[] counts, int draws) {
        for (int i = 0; i < p.length; i++) {
            double se = Math.sqrt(p[i] * (1 - p[i]) / draws);
            assertEquals(p[i], counts[i] / (double) draws, 4 * se + 1e-12, "unit " + i);
        }
    }

    @Test
    void withoutLayerUnitsEveryLayerIsKept() {
        UnitLayout layout = new UnitLayout(new int[] {1}, new int[] {1}, false);
        Mask m = Mask.sample(PolicyState.uniform(layout, 1, 0.5, 0.5, 1), 0, 0);
        assertTrue(m.layer(0));
        assertEquals(0, m.bits(UnitKind.LAYER).length);
        assertFalse(m.bits(UnitKind.HEAD, 0).length != 1);
    }
}
