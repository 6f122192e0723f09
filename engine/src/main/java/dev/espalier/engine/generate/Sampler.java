package dev.espalier.engine.generate;

import dev.espalier.kernels.Tensor;
import java.util.SplittableRandom;

/** Picks the next token from one row of logits: greedy at temperature 0, else sampled from softmax(logits / T). */
public final class Sampler {
    private final float temperature;
    private final SplittableRandom random;

    public Sampler(float temperature, long seed) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number ≥ 0, got " + temperature);
        }
        this.temperature = temperature;
        this.random = new SplittableRandom(seed);
    }

    /** logits (1, vocab) → the chosen id; ties under greedy go to the lowest id. */
    public int next(Tensor logits) {
        int vocab = logits.cols();
        int best = 0;
        float bestValue = logits.get(0, 0);
        for (int i = 1; i < vocab; i++) {
            float v = logits.get(0, i);
            if (v > bestValue) {
                bestValue = v;
                best = i;
            }
        }
        if (temperature == 0f) {
            return best;
        }
        double[] weights = new double[vocab];
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            weights[i] = Math.exp((logits.get(0, i) - bestValue) / temperature);
            sum += weights[i];
        }
        double u = random.nextDouble() * sum;
        double cumulative = 0;
        for (int i = 0; i < vocab; i++) {
            cumulative += weights[i];
            if (u < cumulative) {
                return i;
            }
        }
        return best;
    }
}
