package dev.espalier.engine.data;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Draws calibration sequences from a token stream: {@code samples} windows of {@code seqlen} tokens at seeded random
 * offsets (the SparseGPT / Wanda recipe: random segments of the calibration text), each starting with BOS.
 */
public final class CalibrationSampler {
    private CalibrationSampler() {}

    /** @param stream [BOS] + encode(text); needs at least seqlen tokens */
    public static int[][] sample(int[] stream, int samples, int seqlen, long seed, int bosId) {
        if (samples < 1 || seqlen < 2) {
            throw new IllegalArgumentException(
                    "calibration needs at least 1 sample of at least 2 tokens, got " + samples + " × " + seqlen);
        }
        if (stream.length < seqlen) {
            throw new IllegalArgumentException(
                    "calibration text has " + stream.length + " tokens, fewer than one sequence of " + seqlen);
        }
        SplittableRandom random = new SplittableRandom(seed);
        int[][] out = new int[samples][];
        for (int s = 0; s < samples; s++) {
            int start = random.nextInt(stream.length - seqlen + 1);
            out[s] = Arrays.copyOfRange(stream, start, start + seqlen);
            if (bosId >= 0) {
                out[s][0] = bosId;
            }
        }
        return out;
    }
}
