package dev.espalier.engine.prune.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.prune.policy.PolicyGradientConfig.GradientNormaliser;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The estimator's expectation against closed forms. Units x = (head 0, head 1, channel 0, channel 1) are independent
 * Bernoulli(s); the loss is multilinear, L(m) = c + Σ a_i m_i + Σ_{i<j} q_ij m_i m_j, so E[L] = c + Σ a_i s_i +
 * Σ q_ij s_i s_j and ∂E[L]/∂s_i = a_i + Σ_j q_ij s_j exactly. Each test averages the estimate over many seeded steps and
 * requires every coordinate within 4 standard errors of its target (the standard error from the sample variance), and
 * the power checks show the same tolerance rejects a wrong target.
 */
class PolicyGradientEstimatorTest {
    private static final UnitLayout LAYOUT = new UnitLayout(new int[] {2}, new int[] {2}, false);
    private static final double[] S = {0.3, 0.7, 0.5, 0.85};
    private static final double C = 3.0;
    private static final double[] A = {1.0, -0.5, 2.0, 0.8};
    private static final double[][] Q = new double[4][4];
    private static final int DRAWS = 200_000;
    private static final double Z = 4.0;

    static {
        symmetric(0, 2, 1.5);
        symmetric(1, 3, -1.0);
        symmetric(2, 3, 0.7);
        symmetric(0, 1, 0.4);
    }

    private static void symmetric(int i, int j, double v) {
        Q[i][j] = v;
        Q[j][i] = v;
    }

    private static double loss(boolean[] x) {
        double l = C;
        for (int i = 0; i < 4; i++) {
            if (x[i]) {
                l += A[i];
                for (int j = i + 1; j < 4; j++) {
                    l += x[j] ? Q[i][j] : 0;
                }
            }
        }
        return l;
    }

    private static double expectedLoss() {
        double e = C;
        for (int i = 0; i < 4; i++) {
            e += A[i] * S[i];
            for (int j = i + 1; j < 4; j++) {
                e += Q[i][j] * S[i] * S[j];
            }
        }
        return e;
    }

    private static double[] trueGradient() {
        double[] g = new double[4];
        for (int i = 0; i < 4; i++) {
            g[i] = A[i];
            for (int j = 0; j < 4; j++) {
                g[i] += Q[i][j] * S[j];
            }
        }
        return g;
    }

    /** sqrt(s(1 − s)) · ∂E/∂s, with the official ε: the official score's own target. */
    private static double[] scaledGradient() {
        double[] g = trueGradient();
        double eps = ScoreFunction.OFFICIAL_EPSILON;
        for (int i = 0; i < 4; i++) {
            g[i] *= S[i] * (1 - S[i]) / Math.sqrt((S[i] + eps) * (1 - S[i] + eps));
        }
        return g;
    }

    private static boolean[] units(Mask m) {
        boolean[] h = m.bits(UnitKind.HEAD);
        boolean[] c = m.bits(UnitKind.CHANNEL);
        return new boolean[] {h[0], h[1], c[0], c[1]};
    }

    private static PolicyState state(Double previousBaseline) {
        PolicyState s =
                PolicyState.of(LAYOUT, 20240611L, new double[] {S[0], S[1]}, new double[] {S[2], S[3]}, new double[0]);
        if (previousBaseline != null) {
            s.setBaseline(previousBaseline);
        }
        return s;
    }

    /** Per coordinate: mean and standard error of the estimate over {@link #DRAWS} steps. */
    private record MonteCarlo(double[] mean, double[] standardError) {}

    private static MonteCarlo estimate(PolicyGradientConfig config, PolicyState state) {
        PolicyGradientPruner pruner = new PolicyGradientPruner(config, state);
        double[] sum = new double[4];
        double[] sumSq = new double[4];
        for (int t = 0; t < DRAWS; t++) {
            List<Mask> masks = new ArrayList<>();
            double[] losses = new double[config.rollouts()];
            for (int j = 0; j < config.rollouts(); j++) {
                Mask m = Mask.sample(state, t, j);
                masks.add(m);
                losses[j] = loss(units(m));
            }
            PolicyGradientPruner.Estimate e = pruner.estimate(masks, losses);
            double[] g = {e.heads()[0], e.heads()[1], e.channels()[0], e.channels()[1]};
            for (int i = 0; i < 4; i++) {
                sum[i] += g[i];
                sumSq[i] += g[i] * g[i];
            }
        }
        double[] mean = new double[4];
        double[] se = new double[4];
        for (int i = 0; i < 4; i++) {
            mean[i] = sum[i] / DRAWS;
            double var = (sumSq[i] - DRAWS * mean[i] * mean[i]) / (DRAWS - 1);
            se[i] = Math.sqrt(var / DRAWS);
        }
        return new MonteCarlo(mean, se);
    }

    private static void assertUnbiasedFor(double[] target, MonteCarlo mc) {
        for (int i = 0; i < 4; i++) {
            double tol = Z * mc.standardError()[i];
            assertEquals(target[i], mc.mean()[i], tol, "unit " + i + " (standard error " + mc.standardError()[i] + ")");
        }
    }

    private static void assertBiasedFor(double[] wrongTarget, MonteCarlo mc) {
        boolean rejected = false;
        for (int i = 0; i < 4; i++) {
            rejected |= Math.abs(mc.mean()[i] - wrongTarget[i]) > Z * mc.standardError()[i];
        }
        assertTrue(rejected, "the tolerance cannot tell the estimate from a wrong target");
    }

    private static PolicyGradientConfig fixedZeroBaseline(ScoreFunction f) {
        // b = 0 is independent of the samples, so the unbiased divisor is K (K_MINUS_LAMBDA with λ = 0).
        return PolicyGradientConfig.official(1000, 0.5, 1e-3)
                .withScoreFunction(f)
                .withNormaliser(GradientNormaliser.K_MINUS_LAMBDA);
    }

    private static PolicyGradientConfig noBaseline(PolicyGradientConfig c) {
        return new PolicyGradientConfig(
                c.rollouts(),
                c.steps(),
                c.headLr(),
                c.channelLr(),
                c.layerLr(),
                c.warmupSteps(),
                c.minLr(),
                c.baselineWindow(),
                false,
                c.scoreFunction(),
                c.epsilon(),
                c.normaliser(),
                c.entropyPenalty(),
                c.headKeepRatio(),
                c.channelKeepRatio(),
                c.layerKeepRatio(),
                c.projectUpward(),
                c.projectionTolerance(),
                c.uniformLayerRates());
    }

    @Test
    void sampledMasksHaveTheClosedFormExpectedLoss() {
        PolicyState state = state(null);
        double sum = 0;
        double sumSq = 0;
        for (int t = 0; t < DRAWS; t++) {
            double l = loss(units(Mask.sample(state, t, 0)));
            sum += l;
            sumSq += l * l;
        }
        double mean = sum / DRAWS;
        double se = Math.sqrt((sumSq - DRAWS * mean * mean) / (DRAWS - 1) / DRAWS);
        assertEquals(expectedLoss(), mean, Z * se);
    }

    @Test
    void textbookScoreIsUnbiasedForTheTrueGradient() {
        MonteCarlo mc = estimate(noBaseline(fixedZeroBaseline(ScoreFunction.REINFORCE)), state(null));
        assertUnbiasedFor(trueGradient(), mc);
        assertBiasedFor(scaledGradient(), mc);
    }

    @Test
    void officialScoreIsUnbiasedForTheGradientScaledBySqrtSOneMinusS() {
        MonteCarlo mc = estimate(noBaseline(fixedZeroBaseline(ScoreFunction.OFFICIAL_SCALED)), state(null));
        assertUnbiasedFor(scaledGradient(), mc);
        assertBiasedFor(trueGradient(), mc);
    }

    @Test
    void officialEstimatorAtTheFirstStepIsUnbiasedBecauseTheBaselineIsTheStepMean() {
        // First step: b = mean of this step's K losses, and dividing by K − 1 is the leave-one-out correction.
        MonteCarlo mc = estimate(PolicyGradientConfig.official(1000, 0.5, 1e-3), state(null));
        assertUnbiasedFor(scaledGradient(), mc);
    }

    @Test
    void officialEstimatorWithTheMovingAverageBaselineIsScaledByKMinusLambdaOverKMinusOne() {
        // b = 0.8·b' + 0.2·mean(L): E[Σ_j (L_j − b) score_j] = (K − λ)·target, so K − 1 overshoots by 1.8/1 for K = 2.
        PolicyGradientConfig official = PolicyGradientConfig.official(1000, 0.5, 1e-3);
        MonteCarlo mc = estimate(official, state(4.0));
        double[] target = scaledGradient();
        double[] inflated = new double[4];
        for (int i = 0; i < 4; i++) {
            inflated[i] = target[i] * (2 - 0.2) / (2 - 1);
        }
        assertUnbiasedFor(inflated, mc);
        assertBiasedFor(target, mc);
    }

    @Test
    void kMinusLambdaNormaliserIsUnbiasedWithTheMovingAverageBaseline() {
        PolicyGradientConfig corrected = PolicyGradientConfig.official(1000, 0.5, 1e-3)
                .withNormaliser(GradientNormaliser.K_MINUS_LAMBDA)
                .withRollouts(3);
        assertUnbiasedFor(scaledGradient(), estimate(corrected, state(4.0)));
        assertUnbiasedFor(trueGradient(), estimate(corrected.withScoreFunction(ScoreFunction.REINFORCE), state(4.0)));
    }
}
