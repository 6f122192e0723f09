package dev.espalier.engine.prune.policy;

/**
 * The per-unit factor that multiplies the advantage (L − b) in the policy-gradient estimate. For a Bernoulli(s) unit
 * with mask m, the score ∂/∂s log p(m; s) is (m − s) / (s(1 − s)) and E[L · score] = ∂E[L]/∂s.
 */
public enum ScoreFunction {
    /**
     * The official code's (m − s) / sqrt((s + ε)(1 − s + ε)), ε = 1e-7. It equals the score times sqrt(s(1 − s)) (up
     * to ε), so it estimates sqrt(s(1 − s)) · ∂E[L]/∂s: the true gradient preconditioned by the Bernoulli standard
     * deviation (natural-gradient-like: the Fisher information of Bernoulli(s) is 1/(s(1 − s))), which damps steps of
     * units near 0 or 1 instead of blowing them up.
     */
    OFFICIAL_SCALED {
        @Override
        public double score(boolean kept, double s, double eps) {
            return ((kept ? 1.0 : 0.0) - s) / Math.sqrt((s + eps) * (1 - s + eps));
        }
    },
    /** The textbook REINFORCE score (m − s) / ((s + ε)(1 − s + ε)): an unbiased estimate of ∂E[L]/∂s itself. */
    REINFORCE {
        @Override
        public double score(boolean kept, double s, double eps) {
            return ((kept ? 1.0 : 0.0) - s) / ((s + eps) * (1 - s + eps));
        }
    };

    /** The official ε, added to s and to 1 − s under the root / in the denominator. */
    public static final double OFFICIAL_EPSILON = 1e-7;

    /** The factor for one unit with keep-probability {@code s} whose mask bit is {@code kept}. */
    public abstract double score(boolean kept, double s, double eps);
}
