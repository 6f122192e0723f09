package dev.espalier.engine.forward;

import dev.espalier.engine.model.LlamaConfig;

/** Rotary inverse frequencies {@code theta^(-2i/headDim)}, with Llama 3 scaling when the config asks for it. */
public final class RopeFrequencies {
    private RopeFrequencies() {}

    /** One inverse frequency per rotated pair: (headDim / 2). */
    public static float[] inverseFrequencies(LlamaConfig config) {
        int half = config.headDim() / 2;
        float[] inv = new float[half];
        LlamaConfig.RopeScaling scaling = config.ropeScaling();
        for (int i = 0; i < half; i++) {
            double freq = 1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / config.headDim());
            inv[i] = (float) (scaling == null ? freq : llama3Scaled(freq, scaling));
        }
        return inv;
    }

    /** Llama 3 frequency scaling: long wavelengths divided by the factor, short kept, a smooth blend between. */
    static double llama3Scaled(double freq, LlamaConfig.RopeScaling s) {
        double oldContext = s.originalMaxPositionEmbeddings();
        double lowFreqWavelen = oldContext / s.lowFreqFactor();
        double highFreqWavelen = oldContext / s.highFreqFactor();
        double wavelen = 2 * Math.PI / freq;
        if (wavelen < highFreqWavelen) {
            return freq;
        }
        if (wavelen > lowFreqWavelen) {
            return freq / s.factor();
        }
        double smooth = (oldContext / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
        return (1 - smooth) * freq / s.factor() + smooth * freq;
    }
}
