package dev.espalier.engine.prune.policy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Policy-gradient structural pruning ("Bypass Back-propagation", Gao et al., ACL 2025), the plain, deterministic
 * learner: it samples masks, turns their losses into an update of the keep-probabilities and projects them onto the
 * budget; whoever calls it (the {@code PolicyLearner} actor, or {@link #learn} here) evaluates the losses. Each step:
 * <ol>
 *   <li>{@link #sample}: K masks m_j ~ Bernoulli(s), rollout j seeded by (seed, step, j) only;</li>
 *   <li>the caller scores each masked model on the step's calibration batch: losses L_j (NaN for a failed rollout);</li>
 *   <li>{@link #update}: with L̄ the mean of the finite losses, the baseline is set to L̄ at the first such step and then
 *       updated before use, b ← (1 − 1/n)·b + (1/n)·L̄ (n = window); the gradient is
 *       g = Σ_j (L_j − b)·score(m_j, s) / (K − 1) (+ the entropy penalty's gradient), the step
 *       s ← s − lr_t·g with lr_t cosine-annealed, then {@link #project} onto the keep budgets.</li>
 * </ol>
 * Every default is the official code's ({@link PolicyGradientConfig#official}); where this class goes further
 * (layer units, the textbook score, the K − λ normaliser, upward projection) it is an option, off by default.
 *
 * <p>Two deliberate differences: a non-finite loss (the official code checks NaN only) drops that rollout; and a step
 * whose every rollout failed still advances the step counter (the official code stays on its step, but here the step
 * seeds the masks, so staying would replay the same masks) while leaving probabilities, baseline and schedule
 * position otherwise unchanged.
 */
public final class PolicyGradientPruner {

    /** What one {@link #update} did: for loss curves and logs. */
    public record StepResult(
            long step, double meanLoss, double baseline, int validRollouts, double headLr, double channelLr) {}

    private final PolicyGradientConfig config;
    private PolicyState state;

    /** A learner starting from {@code initial} (copied; not projected: the official code projects after the first update). */
    public PolicyGradientPruner(PolicyGradientConfig config, PolicyState initial) {
        this.config = Objects.requireNonNull(config, "config");
        this.state = initial.copy();
    }

    public PolicyGradientConfig config() {
        return config;
    }

    /** A copy of the current state. */
    public PolicyState state() {
        return state.copy();
    }

    /** The K masks of step {@code step}, which must be the current step. */
    public List<Mask> sample(long step) {
        requireCurrent(step);
        List<Mask> masks = new ArrayList<>(config.rollouts());
        for (int j = 0; j < config.rollouts(); j++) {
            masks.add(Mask.sample(state, step, j));
        }
        return masks;
    }

    /**
     * Applies step {@code step} (the current one) given the loss of each of its K masks, in rollout-index order, then
     * projects and advances to the next step. The masks are re-drawn from their seeds, so the caller passes only losses.
     */
    public StepResult update(long step, double[] losses) {
        requireCurrent(step);
        Estimate e = estimate(sample(step), losses);
        if (e.validRollouts() > 0) {
            for (UnitKind kind : UnitKind.values()) {
                double[] s = state.live(kind);
                double[] g = e.gradient(kind);
                double lr = config.schedule(kind).lr(step);
                for (int i = 0; i < s.length; i++) {
                    s[i] -= lr * g[i];
                }
            }
            if (config.useBaseline()) {
                state.setBaseline(e.baseline());
            }
            project();
        }
        state.advance(step + 1);
        return new StepResult(
                step,
                e.meanLoss(),
                e.validRollouts() > 0 ? e.baseline() : state.baseline(),
                e.validRollouts(),
                config.schedule(UnitKind.HEAD).lr(step),
                config.schedule(UnitKind.CHANNEL).lr(step));
    }

    /** One step's gradient, per kind, and the baseline it used; nothing is applied. */
    record Estimate(
            double meanLoss, double baseline, int validRollouts, double[] heads, double[] channels, double[] layers) {
        double[] gradient(UnitKind kind) {
            return switch (kind) {
                case HEAD -> heads;
                case CHANNEL -> channels;
                case LAYER -> layers;
            };
        }
    }

    /**
     * The estimate for the current state from these masks and their losses (rollout order), without changing anything:
     * the baseline this step would use (set to L̄ at the first step with a finite loss, else updated before use) and
     * the gradient of every kind.
     */
    Estimate estimate(List<Mask> masks, double[] losses) {
        if (losses.length != config.rollouts() || masks.size() != losses.length) {
            throw new IllegalArgumentException(
                    "step " + state.step() + ": expected " + config.rollouts() + " losses, got " + losses.length);
        }
        int valid = 0;
        double sum = 0;
        for (double l : losses) {
            if (Double.isFinite(l)) {
                valid++;
                sum += l;
            }
        }
        if (valid == 0) {
            return new Estimate(Double.NaN, Double.NaN, 0, null, null, null);
        }
        double mean = sum / valid;
        double lambda;
        double b;
        if (!config.useBaseline()) {
            lambda = 0;
            b = 0;
        } else if (!state.baselineInitialised()) {
            lambda = 1; // b = L̄, then b ← (1 − 1/n)·L̄ + (1/n)·L̄ = L̄
            b = mean;
        } else {
            lambda = 1.0 / config.baselineWindow();
            b = state.baseline() * (1 - lambda) + mean * lambda;
        }
        double divisor = switch (config.normaliser()) {
            case K_MINUS_ONE -> config.rollouts() - 1;
            case K_MINUS_LAMBDA -> valid - lambda;
        };
        return new Estimate(
                mean,
                b,
                valid,
                gradient(state.live(UnitKind.HEAD), masks, UnitKind.HEAD, losses, b, divisor),
                gradient(state.live(UnitKind.CHANNEL), masks, UnitKind.CHANNEL, losses, b, divisor),
                gradient(state.live(UnitKind.LAYER), masks, UnitKind.LAYER, losses, b, divisor));
    }

    /**
     * g_i = Σ_{j: L_j finite} (L_j − b)·score(m_ji, s_i) / divisor + λ_H·(log(1 − s_i + ε) − log(s_i + ε)); the sum
     * runs in rollout order. A divisor ≤ 0 (one valid rollout whose loss is its own baseline) makes the sum term 0.
     */
    private double[] gradient(
            double[] s, List<Mask> masks, UnitKind kind, double[] losses, double baseline, double divisor) {
        double[] g = new double[s.length];
        double eps = config.epsilon();
        ScoreFunction f = config.scoreFunction();
        if (divisor > 0) {
            for (int j = 0; j < masks.size(); j++) {
                if (!Double.isFinite(losses[j])) {
                    continue;
                }
                double advantage = losses[j] - baseline;
                boolean[] m = masks.get(j).live(kind);
                for (int i = 0; i < s.length; i++) {
                    g[i] += advantage * f.score(m[i], s[i], eps);
                }
            }
            for (int i = 0; i < s.length; i++) {
                g[i] /= divisor;
            }
        }
        double penalty = config.entropyPenalty();
        if (penalty > 0) {
            for (int i = 0; i < s.length; i++) {
                g[i] += penalty * (StrictMath.log(1 - s[i] + eps) - StrictMath.log(s[i] + eps));
            }
        }
        return g;
    }

    /**
     * Projects every kind onto its budget with {@link BudgetProjection#project}: keep ratio × units globally across
     * layers, or, with {@link PolicyGradientConfig#uniformLayerRates}, each layer's units of a kind onto keep ratio ×
     * that layer's units (layer units, if any, stay global). {@link #update} calls it after every step.
     */
    public void project() {
        UnitLayout layout = state.layout();
        for (UnitKind kind : UnitKind.values()) {
            double[] s = state.live(kind);
            if (s.length == 0) {
                continue;
            }
            if (!config.uniformLayerRates() || kind == UnitKind.LAYER) {
                projectRange(s, 0, s.length, config.keepRatio(kind));
                continue;
            }
            int from = 0;
            for (int layer = 0; layer < layout.numLayers(); layer++) {
                int n = layout.units(kind, layer);
                projectRange(s, from, n, config.keepRatio(kind));
                from += n;
            }
        }
    }

    private void projectRange(double[] s, int from, int n, double keepRatio) {
        if (n == 0) {
            return;
        }
        double[] part = from == 0 && n == s.length ? s : Arrays.copyOfRange(s, from, from + n);
        BudgetProjection.project(part, keepRatio * n, config.projectUpward(), config.projectionTolerance());
        if (part != s) {
            System.arraycopy(part, 0, s, from, n);
        }
    }

    /**
     * The deterministic final top-k: per kind, exactly {@link FinalSelection#keepCount} units over all layers, or of
     * every layer with {@link PolicyGradientConfig#uniformLayerRates}.
     */
    public List<LayerKeep> finalKeep() {
        UnitLayout layout = state.layout();
        if (config.uniformLayerRates()) {
            return FinalSelection.selectPerLayer(
                    state, config.headKeepRatio(), config.channelKeepRatio(), config.layerKeepRatio());
        }
        return FinalSelection.select(
                state,
                FinalSelection.keepCount(layout.total(UnitKind.HEAD), config.headKeepRatio()),
                FinalSelection.keepCount(layout.total(UnitKind.CHANNEL), config.channelKeepRatio()),
                FinalSelection.keepCount(layout.total(UnitKind.LAYER), config.layerKeepRatio()));
    }

    /** The state's bytes ({@link PolicyState#toBytes}). */
    public byte[] checkpoint() {
        return state.toBytes();
    }

    /** Replaces the state with one read from {@link #checkpoint} bytes of a learner with the same unit layout. */
    public void restore(byte[] checkpoint) {
        PolicyState restored = PolicyState.fromBytes(checkpoint);
        if (!restored.layout().equals(state.layout())) {
            throw new IllegalArgumentException(
                    "checkpoint layout " + restored.layout() + " differs from the learner's " + state.layout());
        }
        state = restored;
    }

    /** {@link #learn(Function, Consumer, long, Consumer)} without listeners. */
    public PolicyState learn(Function<Mask, Double> lossOracle) {
        return learn(lossOracle, r -> {}, 0, bytes -> {});
    }

    /**
     * Runs steps from the current one to {@link PolicyGradientConfig#steps}, scoring each mask with
     * {@code lossOracle} in rollout order (a step-dependent oracle reads {@link Mask#step()}), and returns the final
     * state. {@code onStep} sees every step's result; every {@code checkpointEvery} steps (0: never) the state's bytes
     * go to {@code onCheckpoint}.
     */
    public PolicyState learn(
            Function<Mask, Double> lossOracle,
            Consumer<StepResult> onStep,
            long checkpointEvery,
            Consumer<byte[]> onCheckpoint) {
        while (state.step() < config.steps()) {
            long step = state.step();
            List<Mask> masks = sample(step);
            double[] losses = new double[masks.size()];
            for (int j = 0; j < losses.length; j++) {
                Double l = lossOracle.apply(masks.get(j));
                losses[j] = l == null ? Double.NaN : l;
            }
            onStep.accept(update(step, losses));
            if (checkpointEvery > 0 && state.step() % checkpointEvery == 0) {
                onCheckpoint.accept(checkpoint());
            }
        }
        return state();
    }

    private void requireCurrent(long step) {
        if (step != state.step()) {
            throw new IllegalStateException("the learner is at step " + state.step() + ", not " + step);
        }
    }
}
