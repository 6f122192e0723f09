package dev.espalier.engine.prune.policy;

import java.util.Objects;

/**
 * Hyperparameters of policy-gradient structural pruning ("Bypass Back-propagation", Gao et al., ACL 2025).
 *
 * <p><b>The official code</b> ({@code ethanygao/backprop-free_LLM_pruning}, {@code prune_channel/}), as its scripts
 * run it ({@code scripts/llama2_7b.sh}, {@code llama3_8b.sh}): calibration from C4, {@code --dataset-size 120000}
 * sequences of {@code --max-seq-length 128} tokens in batches of {@code --train-batch-size 8}, one epoch, so
 * T = 120000 / 8 = 15 000 steps, each scoring K = 2 masks ({@code --K 2}) by one forward pass over the batch;
 * learning rate 2e-3 for both heads and channels on LLaMA-2 7B, 6e-3 on LLaMA-3 8B, cosine-annealed to 0 with no
 * warm-up; moving-average window 5 ({@code --ma-window-size 5}; the argparse default is 10 and the class default 1);
 * entropy penalty off ({@code --penalty-lamda-init -1}; argparse default 0.01); keep ratio r = 0.7 / 0.6 / 0.5
 * ({@code --prune-rate-target}, which despite its name is the kept fraction), the same r as the initialisation's mean
 * ({@code --init-rate}); Wanda-sp + sigmap initialisation from 128 sequences of 1024 tokens; global projection
 * (head and channel budgets over all layers). The update is plain SGD: the code builds Adam/SGD optimisers but only
 * uses them to drive the scheduler, subtracting lr · grad from the probabilities itself, so momentum and weight decay
 * never apply. The paper describes the same setting (K = 2, 120K C4 samples of length 128, cosine schedule); its text
 * was not re-checked line by line here, the scripts were.
 *
 * <p><b>Cost of the paper's setting:</b> 15 000 steps × 2 rollouts × 8 × 128 tokens ≈ 30.7 M tokens of forward
 * passes, i.e. about 240 full passes over a 128K-token calibration set.
 *
 * @param rollouts             K, masks per step (official 2); at least 2 under {@link GradientNormaliser#K_MINUS_ONE}
 * @param steps                T, the schedule's length (official 15 000)
 * @param headLr               peak learning rate of head probabilities (official 2e-3 / 6e-3)
 * @param channelLr            peak learning rate of channel probabilities (official: the same as headLr)
 * @param layerLr              peak learning rate of layer probabilities (not in the official code)
 * @param warmupSteps          linear warm-up steps of the cosine schedule (official 0)
 * @param minLr                the cosine's floor η_min (official 0)
 * @param baselineWindow       n of the moving average b ← (1 − 1/n)·b + (1/n)·mean L (official scripts 5)
 * @param useBaseline          false: b = 0 (the official {@code --cancel-ma-baseline})
 * @param scoreFunction        the per-unit score (official {@link ScoreFunction#OFFICIAL_SCALED})
 * @param epsilon              ε in the score's denominator (official 1e-7)
 * @param normaliser           what the summed estimate is divided by (official {@link GradientNormaliser#K_MINUS_ONE})
 * @param entropyPenalty       λ of the penalty λ·Σ H(s) whose gradient λ(log(1 − s + ε) − log(s + ε)) is added
 *                             (official scripts: off, 0)
 * @param headKeepRatio        kept fraction of all key/value groups (official r)
 * @param channelKeepRatio     kept fraction of all FFN channels (official r)
 * @param layerKeepRatio       kept fraction of decoder layers, when the layout has layer units
 * @param projectUpward        also shift probabilities up when their sum is below the budget (official false)
 * @param projectionTolerance  |Σ s − budget| the bisection stops at, in units (official 1e-3)
 * @param uniformLayerRates    each layer's units of a kind are projected onto, and finally keep, their own share
 *                             (keep ratio × the layer's units) instead of one budget over all layers (official false:
 *                             global, so the learner sets each layer's rate)
 */
public record PolicyGradientConfig(
        int rollouts,
        long steps,
        double headLr,
        double channelLr,
        double layerLr,
        long warmupSteps,
        double minLr,
        int baselineWindow,
        boolean useBaseline,
        ScoreFunction scoreFunction,
        double epsilon,
        GradientNormaliser normaliser,
        double entropyPenalty,
        double headKeepRatio,
        double channelKeepRatio,
        double layerKeepRatio,
        boolean projectUpward,
        double projectionTolerance,
        boolean uniformLayerRates) {

    /** What the sum over rollouts of (L_j − b)·score_j is divided by. */
    public enum GradientNormaliser {
        /**
         * The official K − 1. Unbiased (for the score's target) when b is the mean of this step's losses (window 1,
         * and the first step); with the moving average b = (1 − λ)b' + λ·mean L the expectation is (K − λ)/(K − 1)
         * times the target (1.8× for K = 2, window 5): a positive rescaling, so the direction is unbiased.
         */
        K_MINUS_ONE,
        /** V − λ, V the rollouts with a finite loss and λ the weight of this step's mean in b: unbiased for every window. */
        K_MINUS_LAMBDA
    }

    public PolicyGradientConfig {
        if (rollouts < 1 || (normaliser == GradientNormaliser.K_MINUS_ONE && rollouts < 2)) {
            throw new IllegalArgumentException(
                    "rollouts per step must be ≥ 2 (≥ 1 with K_MINUS_LAMBDA), got " + rollouts);
        }
        if (steps < 1 || baselineWindow < 1) {
            throw new IllegalArgumentException(
                    "steps and baseline window must be ≥ 1, got " + steps + " and " + baselineWindow);
        }
        if (!(headLr >= 0
                && channelLr >= 0
                && layerLr >= 0
                && minLr >= 0
                && epsilon >= 0
                && entropyPenalty >= 0
                && projectionTolerance > 0)) {
            throw new IllegalArgumentException(
                    "learning rates, ε, entropy penalty must be ≥ 0 and the projection tolerance > 0");
        }
        for (double r : new double[] {headKeepRatio, channelKeepRatio, layerKeepRatio}) {
            if (!(r >= 0 && r <= 1)) {
                throw new IllegalArgumentException("keep ratio " + r + " outside [0, 1]");
            }
        }
        Objects.requireNonNull(scoreFunction, "scoreFunction");
        Objects.requireNonNull(normaliser, "normaliser");
    }

    /**
     * The official scripts' setting for {@code steps} steps at keep ratio {@code keepRatio} (heads and channels) and
     * learning rate {@code lr}; layers (if the layout has layer units) all kept, at the head rate.
     */
    public static PolicyGradientConfig official(long steps, double keepRatio, double lr) {
        return new PolicyGradientConfig(
                2,
                steps,
                lr,
                lr,
                lr,
                0,
                0,
                5,
                true,
                ScoreFunction.OFFICIAL_SCALED,
                ScoreFunction.OFFICIAL_EPSILON,
                GradientNormaliser.K_MINUS_ONE,
                0,
                keepRatio,
                keepRatio,
                1.0,
                false,
                BudgetProjection.OFFICIAL_TOLERANCE,
                false);
    }

    public PolicyGradientConfig withRollouts(int k) {
        return new PolicyGradientConfig(
                k,
                steps,
                headLr,
                channelLr,
                layerLr,
                warmupSteps,
                minLr,
                baselineWindow,
                useBaseline,
                scoreFunction,
                epsilon,
                normaliser,
                entropyPenalty,
                headKeepRatio,
                channelKeepRatio,
                layerKeepRatio,
                projectUpward,
                projectionTolerance,
                uniformLayerRates);
    }

    public PolicyGradientConfig withScoreFunction(ScoreFunction f) {
        return new PolicyGradientConfig(
                rollouts,
                steps,
                headLr,
                channelLr,
                layerLr,
                warmupSteps,
                minLr,
                baselineWindow,
                useBaseline,
                f,
                epsilon,
                normaliser,
                entropyPenalty,
                headKeepRatio,
                channelKeepRatio,
                layerKeepRatio,
                projectUpward,
                projectionTolerance,
                uniformLayerRates);
    }

    public PolicyGradientConfig withNormaliser(GradientNormaliser n) {
        return new PolicyGradientConfig(
                rollouts,
                steps,
                headLr,
                channelLr,
                layerLr,
                warmupSteps,
                minLr,
                baselineWindow,
                useBaseline,
                scoreFunction,
                epsilon,
                n,
                entropyPenalty,
                headKeepRatio,
                channelKeepRatio,
                layerKeepRatio,
                projectUpward,
                projectionTolerance,
                uniformLayerRates);
    }

    public PolicyGradientConfig withLayerKeepRatio(double r, double lr) {
        return new PolicyGradientConfig(
                rollouts,
                steps,
                headLr,
                channelLr,
                lr,
                warmupSteps,
                minLr,
                baselineWindow,
                useBaseline,
                scoreFunction,
                epsilon,
                normaliser,
                entropyPenalty,
                headKeepRatio,
                channelKeepRatio,
                r,
                projectUpward,
                projectionTolerance,
                uniformLayerRates);
    }

    public PolicyGradientConfig withProjectUpward(boolean upward) {
        return new PolicyGradientConfig(
                rollouts,
                steps,
                headLr,
                channelLr,
                layerLr,
                warmupSteps,
                minLr,
                baselineWindow,
                useBaseline,
                scoreFunction,
                epsilon,
                normaliser,
                entropyPenalty,
                headKeepRatio,
                channelKeepRatio,
                layerKeepRatio,
                upward,
                projectionTolerance,
                uniformLayerRates);
    }

    public PolicyGradientConfig withUniformLayerRates(boolean uniform) {
        return new PolicyGradientConfig(
                rollouts,
                steps,
                headLr,
                channelLr,
                layerLr,
                warmupSteps,
                minLr,
                baselineWindow,
                useBaseline,
                scoreFunction,
                epsilon,
                normaliser,
                entropyPenalty,
                headKeepRatio,
                channelKeepRatio,
                layerKeepRatio,
                projectUpward,
                projectionTolerance,
                uniform);
    }

    /** The learning-rate schedule of {@code kind}. */
    public CosineSchedule schedule(UnitKind kind) {
        double lr = switch (kind) {
            case HEAD -> headLr;
            case CHANNEL -> channelLr;
            case LAYER -> layerLr;
        };
        return new CosineSchedule(lr, steps, warmupSteps, minLr);
    }

    /** The keep ratio of {@code kind}. */
    public double keepRatio(UnitKind kind) {
        return switch (kind) {
            case HEAD -> headKeepRatio;
            case CHANNEL -> channelKeepRatio;
            case LAYER -> layerKeepRatio;
        };
    }
}
