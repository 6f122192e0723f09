package dev.espalier.engine.prune.policy;

/**
 * Projects keep-probabilities onto a keep budget: s ← clamp(s − v, 0, 1) with the shift v found by bisection so that
 * Σ clamp(s − v, 0, 1) = budget, the budget counted in units (the official code's {@code k = numel · rate}; all units
 * of a kind cost the same, so units and parameters agree up to a constant). This is the Euclidean projection onto
 * {s ∈ [0, 1]ⁿ : Σ s = budget}. Sums run in index order, so the result is deterministic.
 *
 * <p>The official {@code solve_v} only ever shifts down: it bisects v on [0, max s], returns v = 0 when
 * Σ clamp(s, 0, 1) is already below the budget (an inequality constraint Σ s ≤ budget), and stops when
 * |Σ − budget| < 1e-3 or after 21 evaluations (an error of at most n · max s / 2²¹ units, 0.2 for LLaMA-2 7B's 352 256
 * channels). {@link #project} does the same with {@code allowRaise = false}; with {@code true} it also shifts up
 * (v < 0) so the budget is met as an equality. It iterates until the tolerance is met or the bracket stops shrinking.
 */
public final class BudgetProjection {
    /** The official stopping tolerance, in units. */
    public static final double OFFICIAL_TOLERANCE = 1e-3;

    private static final int MAX_ITERATIONS = 200;

    private BudgetProjection() {}

    /** Σ clamp(s − v, 0, 1). */
    public static double keptMass(double[] s, double v) {
        double sum = 0;
        for (double x : s) {
            sum += Math.min(1.0, Math.max(0.0, x - v));
        }
        return sum;
    }

    /**
     * The shift v with |Σ clamp(s − v, 0, 1) − budget| ≤ tolerance (or the best the bracket allows); 0 when the mass
     * is already below the budget and {@code allowRaise} is false.
     *
     * @param budget kept units wanted, in [0, s.length]
     */
    public static double shift(double[] s, double budget, boolean allowRaise, double tolerance) {
        if (!(budget >= 0 && budget <= s.length)) {
            throw new IllegalArgumentException("keep budget " + budget + " outside [0, " + s.length + "]");
        }
        if (s.length == 0) {
            return 0;
        }
        double f0 = keptMass(s, 0) - budget;
        if (Math.abs(f0) <= tolerance || (f0 < 0 && !allowRaise)) {
            return 0;
        }
        double lo; // f(lo) ≥ 0
        double hi; // f(hi) ≤ 0
        if (f0 > 0) {
            lo = 0;
            hi = max(s); // every clamp(s − max, 0, 1) is 0
        } else {
            lo = min(s) - 1; // every clamp(s − (min − 1), 0, 1) is 1
            hi = 0;
        }
        double v = (lo + hi) / 2;
        for (int it = 0; it < MAX_ITERATIONS; it++) {
            v = (lo + hi) / 2;
            double f = keptMass(s, v) - budget;
            if (Math.abs(f) <= tolerance || v == lo || v == hi) {
                break;
            }
            if (f > 0) {
                lo = v;
            } else {
                hi = v;
            }
        }
        return v;
    }

    /**
     * Projects {@code s} in place: s ← clamp(s − v, 0, 1) with v = {@link #shift}; returns v. Values above 1 or below
     * 0 (an SGD step can leave them there) are clamped even when v = 0, as in the official code.
     */
    public static double project(double[] s, double budget, boolean allowRaise, double tolerance) {
        double v = shift(s, budget, allowRaise, tolerance);
        for (int i = 0; i < s.length; i++) {
            s[i] = Math.min(1.0, Math.max(0.0, s[i] - v));
        }
        return v;
    }

    private static double max(double[] s) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : s) {
            m = Math.max(m, x);
        }
        return m;
    }

    private static double min(double[] s) {
        double m = Double.POSITIVE_INFINITY;
        for (double x : s) {
            m = Math.min(m, x);
        }
        return m;
    }
}
