package dev.espalier.engine.prune.structured;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AttentionMapSimilarityTest {
    private static final double LN2 = Math.log(2);

    @Test
    void identicalHeadsDivergeByZeroAndDisjointSupportsByLn2() {
        int n = 6;
        try (Arena arena = Arena.ofConfined()) {
            Random random = new Random(4);
            Tensor soft = causalRandom(arena, random, n, n);
            Tensor first = causalPoint(arena, n, n, true); // all mass on key 0
            Tensor diagonal = causalPoint(arena, n, n, false); // all mass on the query's own position
            AttentionMapSimilarity similarity = new AttentionMapSimilarity(4);
            similarity.add(0, soft);
            similarity.add(1, first);
            similarity.add(2, soft);
            similarity.add(3, diagonal);
            double[][] d = similarity.divergence();
            assertEquals(n - 1, similarity.rows()); // row 0 has one key and is skipped
            assertEquals(0, d[0][2], 1e-12);
            assertEquals(LN2, d[1][3], 1e-12); // rows of two or more keys: disjoint supports
            for (int a = 0; a < 4; a++) {
                for (int b = 0; b < 4; b++) {
                    assertEquals(d[a][b], d[b][a], 0);
                    assertTrue(d[a][b] >= 0 && d[a][b] <= LN2);
                }
            }
            double[] scores = {1, 1, 2, 1};
            AttentionMapSimilarity.Pruning pruning =
                    AttentionMapSimilarity.greedyPrune(d, scores, 1e-6, Integer.MAX_VALUE);
            assertArrayEquals(new int[] {0}, pruning.removed()); // head 0 duplicates head 2, which scores higher
            assertArrayEquals(new int[] {1, 2, 3}, pruning.kept());
            assertArrayEquals(new int[] {2, 0}, pruning.groups()[1]);
        }
    }

    @Test
    void divergenceIsTheMeanOverRowsAndPassesOfTheRowJensenShannon() {
        Random random = new Random(12);
        int n = 3;
        int keys = 5; // queries at positions 2, 3, 4 of a cached prefix
        try (Arena arena = Arena.ofConfined()) {
            AttentionMapSimilarity similarity = new AttentionMapSimilarity(2);
            double expected = 0;
            int rows = 0;
            for (int pass = 0; pass < 2; pass++) {
                Tensor a = causalRandom(arena, random, n, keys);
                Tensor b = causalRandom(arena, random, n, keys);
                similarity.add(1, b);
                similarity.add(0, a);
                for (int r = 0; r < n; r++) {
                    int length = keys - n + r + 1;
                    double js = 0;
                    for (int k = 0; k < length; k++) {
                        double p = a.get(r, k);
                        double q = b.get(r, k);
                        double m = (p + q) / 2;
                        js += 0.5 * p * Math.log(p / m) + 0.5 * q * Math.log(q / m);
                    }
                    expected += js;
                    rows++;
                }
            }
            assertEquals(6, similarity.rows());
            assertEquals(expected / rows, similarity.divergence()[0][1], 1e-6);
        }
    }

    @Test
    void rowStrideKeepsEveryKthRow() {
        try (Arena arena = Arena.ofConfined()) {
            Random random = new Random(2);
            AttentionMapSimilarity similarity = new AttentionMapSimilarity(2, 3);
            similarity.add(0, causalRandom(arena, random, 10, 10));
            similarity.add(1, causalRandom(arena, random, 10, 10));
            assertEquals(3, similarity.rows()); // rows 3, 6, 9 (row 0 has a single key)
        }
    }

    @Test
    void thresholdAndCountModesPruneTheSameHeadsInTheSameOrder() {
        double[][] d = {
            {0, 0.10, 0.50, 0.60, 0.40},
            {0.10, 0, 0.55, 0.65, 0.45},
            {0.50, 0.55, 0, 0.05, 0.30},
            {0.60, 0.65, 0.05, 0, 0.35},
            {0.40, 0.45, 0.30, 0.35, 0}
        };
        double[] scores = {3, 5, 2, 1, 4};
        AttentionMapSimilarity.Pruning byTau = AttentionMapSimilarity.greedyPrune(d, scores, 0.2, Integer.MAX_VALUE);
        assertArrayEquals(new int[] {3, 0}, byTau.removed()); // pair (2,3) first, then (0,1); 0.30 is above τ
        assertArrayEquals(new int[] {1, 2, 4}, byTau.kept());
        AttentionMapSimilarity.Pruning byCount =
                AttentionMapSimilarity.greedyPrune(d, scores, Double.POSITIVE_INFINITY, 3);
        assertArrayEquals(new int[] {3, 0, 2}, byCount.removed()); // then (2,4) at 0.30: head 2 scores lower
        assertArrayEquals(new int[] {1, 4}, byCount.kept());
        assertArrayEquals(new int[] {4, 2, 3}, byCount.groups()[1]);
    }

    /** A chain 0–1–2 (0 and 2 too far apart): the greedy τ rule keeps both ends, the threshold graph one unit. */
    @Test
    void thresholdGraphKeepsTheBestUnitOfEachConnectedComponent() {
        double[][] d = {
            {0, 0.10, 0.40, 0.50},
            {0.10, 0, 0.15, 0.50},
            {0.40, 0.15, 0, 0.50},
            {0.50, 0.50, 0.50, 0}
        };
        double[] scores = {3, 1, 2, 0.5};
        AttentionMapSimilarity.Pruning graph = AttentionMapSimilarity.thresholdPrune(d, scores, 0.2);
        assertArrayEquals(new int[] {0, 3}, graph.kept());
        assertArrayEquals(new int[] {1, 2}, graph.removed());
        assertArrayEquals(new int[] {0, 1, 2}, graph.groups()[0]);
        assertArrayEquals(new int[] {3}, graph.groups()[1]);
        assertArrayEquals(
                new int[] {0, 2, 3},
                AttentionMapSimilarity.greedyPrune(d, scores, 0.2, Integer.MAX_VALUE)
                        .kept());
    }

    /** Against brute force: a unit survives iff no unit reachable from it (transitive closure) scores higher. */
    @Test
    void thresholdGraphMatchesTheTransitiveClosureOnRandomCases() {
        Random random = new Random(17);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + random.nextInt(7);
            double[][] d = new double[n][n];
            double[] scores = new double[n];
            for (int i = 0; i < n; i++) {
                scores[i] = random.nextInt(4); // ties happen
                for (int j = i + 1; j < n; j++) {
                    d[i][j] = d[j][i] = random.nextDouble() * LN2;
                }
            }
            double threshold = random.nextDouble() * 0.5;
            boolean[][] reach = new boolean[n][n];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    reach[i][j] = i == j || d[i][j] < threshold;
                }
            }
            for (int k = 0; k < n; k++) {
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        reach[i][j] |= reach[i][k] && reach[k][j];
                    }
                }
            }
            List<Integer> expected = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                boolean best = true;
                for (int j = 0; j < n; j++) {
                    if (reach[i][j] && (scores[j] > scores[i] || (scores[j] == scores[i] && j < i))) {
                        best = false;
                    }
                }
                if (best) {
                    expected.add(i);
                }
            }
            assertArrayEquals(
                    expected.stream().mapToInt(Integer::intValue).toArray(),
                    AttentionMapSimilarity.thresholdPrune(d, scores, threshold).kept(),
                    "trial " + trial);
        }
    }

    @Test
    void groupDivergenceAveragesCrossPairsAndWithinGroupPruningKeepsEqualCounts() {
        double[][] d = new double[4][4];
        double[][] values = {{0, 0.1, 0.2, 0.3}, {0.1, 0, 0.4, 0.5}, {0.2, 0.4, 0, 0.6}, {0.3, 0.5, 0.6, 0}};
        for (int a = 0; a < 4; a++) {
            d[a] = values[a].clone();
        }
        double[][] groups = AttentionMapSimilarity.groupDivergence(d, 2);
        assertEquals((0.2 + 0.3 + 0.4 + 0.5) / 4, groups[0][1], 1e-12);
        assertEquals(0, groups[0][0], 0);
        int[] kept = AttentionMapSimilarity.pruneWithinGroups(d, new double[] {1, 2, 4, 3}, 2, 1);
        assertArrayEquals(new int[] {1, 2}, kept);
        assertEquals(
                new dev.espalier.engine.model.LlamaConfig.LayerDims(2, 2, 1),
                new KeptUnits(kept, new int[] {0}).dims(new dev.espalier.engine.model.LlamaConfig.LayerDims(4, 2, 1)));
    }

    /** Random causal rows: query r (at position keys − n + r) spreads mass over keys 0..position. */
    private static Tensor causalRandom(Arena arena, Random random, int n, int keys) {
        float[] v = new float[n * keys];
        for (int r = 0; r < n; r++) {
            int length = keys - n + r + 1;
            double sum = 0;
            double[] w = new double[length];
            for (int k = 0; k < length; k++) {
                w[k] = Math.exp(random.nextGaussian());
                sum += w[k];
            }
            for (int k = 0; k < length; k++) {
                v[r * keys + k] = (float) (w[k] / sum);
            }
        }
        return Tensor.ofFloats(arena, v, n, keys);
    }

    private static Tensor causalPoint(Arena arena, int n, int keys, boolean firstKey) {
        float[] v = new float[n * keys];
        for (int r = 0; r < n; r++) {
            v[r * keys + (firstKey ? 0 : keys - n + r)] = 1;
        }
        return Tensor.ofFloats(arena, v, n, keys);
    }
}
