package dev.espalier.engine.prune.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BudgetProjectionTest {

    private static double[] random(int n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
            s[i] = lo + (hi - lo) * r.nextDouble();
        }
        return s;
    }

    private static double sum(double[] s) {
        double t = 0;
        for (double x : s) {
            t += x;
        }
        return t;
    }

    @Test
    void meetsTheBudgetWithinOneUnitAcrossSizesAndBudgets() {
        for (int n : new int[] {7, 100, 11008 * 4}) {
            for (double ratio : new double[] {0.05, 0.3, 0.5, 0.7, 0.95}) {
                // After an SGD step probabilities may leave [0, 1]; the projection must still land on the budget.
                double[] s = random(n, n * 31L + (long) (ratio * 100), 0.2, 1.4);
                double budget = ratio * n;
                double v = BudgetProjection.project(s, budget, true, BudgetProjection.OFFICIAL_TOLERANCE);
                assertEquals(budget, sum(s), 1.0, "n=" + n + " ratio=" + ratio);
                assertEquals(
                        budget, sum(s), BudgetProjection.OFFICIAL_TOLERANCE, "n=" + n + " ratio=" + ratio + " v=" + v);
                for (double x : s) {
                    assertTrue(x >= 0 && x <= 1);
                }
            }
        }
    }

    @Test
    void isOneShiftFollowedByAClamp() {
        double[] s = {0.9, 0.1, 0.5, 1.2, -0.3, 0.75};
        double[] before = s.clone();
        double v = BudgetProjection.project(s, 2.0, false, 1e-9);
        for (int i = 0; i < s.length; i++) {
            assertEquals(Math.min(1, Math.max(0, before[i] - v)), s[i], 0.0);
        }
        // Closed form: for v ∈ (0.2, 0.5) units 0.1 and −0.3 clamp to 0 and 1.2 − v < 1, so the kept mass is
        // (0.9 − v) + (0.5 − v) + (1.2 − v) + (0.75 − v) = 3.35 − 4v = 2  ⇒  v = 0.3375.
        assertEquals(0.3375, v, 1e-9);
        assertEquals(2.0, sum(s), 1e-8);
    }

    @Test
    void officialProjectionNeverRaisesProbabilities() {
        double[] s = {0.1, 0.2, 0.3};
        double v = BudgetProjection.project(s, 2.0, false, BudgetProjection.OFFICIAL_TOLERANCE);
        assertEquals(0.0, v);
        assertArrayEquals(new double[] {0.1, 0.2, 0.3}, s, 0.0);
        double raised = BudgetProjection.project(s, 2.0, true, BudgetProjection.OFFICIAL_TOLERANCE);
        assertTrue(raised < 0);
        assertEquals(2.0, sum(s), BudgetProjection.OFFICIAL_TOLERANCE);
    }

    @Test
    void isTheEuclideanProjectionOntoTheCappedSimplex() {
        // Brute force on a small case: no feasible point on a grid around the result is closer to the input.
        double[] s0 = {0.95, 0.6, 0.4, 0.05, 0.8};
        double[] p = s0.clone();
        BudgetProjection.project(p, 2.0, true, 1e-12);
        double best = dist(s0, p);
        SplittableRandom r = new SplittableRandom(5);
        for (int trial = 0; trial < 20_000; trial++) {
            double[] q = new double[5];
            for (int i = 0; i < 4; i++) {
                q[i] = Math.min(1, Math.max(0, p[i] + 0.2 * (r.nextDouble() - 0.5)));
            }
            q[4] = 2.0 - (q[0] + q[1] + q[2] + q[3]);
            if (q[4] < 0 || q[4] > 1) {
                continue;
            }
            assertTrue(dist(s0, q) >= best - 1e-9, "a feasible point closer than the projection");
        }
    }

    private static double dist(double[] a, double[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return d;
    }
}
