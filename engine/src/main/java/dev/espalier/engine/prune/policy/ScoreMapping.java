package dev.espalier.engine.prune.policy;

/**
 * Maps one layer's importance scores of one unit kind (higher = more important) to initial keep-probabilities whose
 * mean is the target keep ratio r, as the official {@code init.py} does per layer and per kind (its
 * {@code --score-from-metric}), followed there, and here, by a clamp to [0, 1] (which can move the mean off r; the
 * first projection restores the budget).
 */
public enum ScoreMapping {
    /**
     * The official scripts' choice ({@code sigmap}): z = (x − mean x)/(std x + 1e-8) with the unbiased (n − 1)
     * standard deviation, p = sigmoid(z), then p ← p + (r − mean p), then clamp. Invariant to scaling the scores.
     */
    SIGMAP {
        @Override
        public double[] map(double[] scores, double keepRatio) {
            int n = scores.length;
            double mean = mean(scores);
            double ss = 0;
            for (double x : scores) {
                ss += (x - mean) * (x - mean);
            }
            double std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0; // torch.std of one element is NaN; treat it as 0
            double[] p = new double[n];
            for (int i = 0; i < n; i++) {
                p[i] = 1 / (1 + StrictMath.exp(-(scores[i] - mean) / (std + 1e-8)));
            }
            return shiftAndClamp(p, keepRatio);
        }
    },
    /** The official {@code norm}: min-max scaling (x − min)/(max − min + 1e-8), then p ← p + (r − mean p), then clamp. */
    NORM {
        @Override
        public double[] map(double[] scores, double keepRatio) {
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (double x : scores) {
                min = Math.min(min, x);
                max = Math.max(max, x);
            }
            double[] p = new double[scores.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = (scores[i] - min) / (max - min + 1e-8);
            }
            return shiftAndClamp(p, keepRatio);
        }
    };

    /** The initial probabilities of one layer's units of one kind; {@code scores} is not modified. */
    public abstract double[] map(double[] scores, double keepRatio);

    private static double mean(double[] a) {
        double s = 0;
        for (double x : a) {
            s += x;
        }
        return a.length == 0 ? 0 : s / a.length;
    }

    private static double[] shiftAndClamp(double[] p, double keepRatio) {
        double delta = keepRatio - mean(p);
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.min(1.0, Math.max(0.0, p[i] + delta));
        }
        return p;
    }
}
