package dev.espalier.engine.prune.policy;

/**
 * The learning rate of step t (0-based): linear warm-up 0 → lr over {@code warmupSteps} steps, then cosine annealing
 * lr_t = minLr + (lr − minLr)(1 + cos(π (t − W)/(T − W)))/2 down to {@code minLr} at t = T, then minLr. The official
 * code uses PyTorch's {@code CosineAnnealingLR(T_max = total steps)} (no warm-up: {@code --warmup-length 0}; η_min = 0),
 * reading the rate before stepping the scheduler, so step 0 uses the full lr and the last step T − 1 a small positive
 * one. With warm-up its own {@code WarmupCosineAnnealingLR} gives step 0 a rate of 0, as this does. Uses
 * {@link StrictMath} so the rate is bit-identical on every JVM.
 *
 * @param baseLr      the peak rate
 * @param totalSteps  T, the step at which the cosine reaches minLr
 * @param warmupSteps W, 0 for none
 * @param minLr       η_min
 */
public record CosineSchedule(double baseLr, long totalSteps, long warmupSteps, double minLr) {

    public CosineSchedule {
        if (!(baseLr >= 0) || !(minLr >= 0) || totalSteps < 1 || warmupSteps < 0 || warmupSteps >= totalSteps) {
            throw new IllegalArgumentException(
                    "cosine schedule needs lr ≥ 0, min lr ≥ 0, total steps ≥ 1 and 0 ≤ warm-up < total, got lr="
                            + baseLr + " min=" + minLr + " total=" + totalSteps + " warm-up=" + warmupSteps);
        }
    }

    /** The official schedule: no warm-up, η_min = 0. */
    public static CosineSchedule official(double baseLr, long totalSteps) {
        return new CosineSchedule(baseLr, totalSteps, 0, 0);
    }

    /** The rate used by the update of step {@code step}. */
    public double lr(long step) {
        if (step < warmupSteps) {
            return baseLr * step / warmupSteps;
        }
        if (step > totalSteps) {
            return minLr;
        }
        double phase = Math.PI * (step - warmupSteps) / (totalSteps - warmupSteps);
        return minLr + (baseLr - minLr) * (1 + StrictMath.cos(phase)) / 2;
    }
}
