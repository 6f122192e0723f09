package dev.espalier.engine.prune.policy;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.kernels.Tensor;

/**
 * Wanda-sp's calibration statistics for {@link MetricInitialisation}: a {@link LayerTap} that, over dense forward
 * passes, sums x_j² per input column of every layer's o_proj and down_proj (the {@code add_batch} of the official
 * code, up to a positive factor, which {@link ScoreMapping} ignores). Then {@link #scores} gives the per-unit scores.
 */
public final class WandaSpStatistics implements LayerTap {
    private final double[][] attention; // (layers)(numHeads · headDim): Σ_tokens x_j² of o_proj's input
    private final double[][] down; // (layers)(intermediate): Σ_tokens x_j² of down_proj's input

    public WandaSpStatistics(LlamaConfig config) {
        attention = new double[config.numLayers()][];
        down = new double[config.numLayers()][];
        for (int l = 0; l < config.numLayers(); l++) {
            attention[l] = new double[config.layer(l).numHeads() * config.headDim()];
            down[l] = new double[config.layer(l).intermediateSize()];
        }
    }

    @Override
    public void attentionOutput(int layer, Tensor x) {
        addSquares(x, attention[layer]);
    }

    @Override
    public void downInput(int layer, Tensor x) {
        addSquares(x, down[layer]);
    }

    private static void addSquares(Tensor x, double[] into) {
        for (int r = 0; r < x.rows(); r++) {
            for (int c = 0; c < into.length; c++) {
                double v = x.get(r, c);
                into[c] += v * v;
            }
        }
    }

    /** The Wanda-sp scores of {@code model}'s key/value groups and FFN channels from the statistics seen so far. */
    public MetricInitialisation.UnitScores scores(LlamaModel model) {
        LlamaConfig config = model.config();
        double[][] heads = new double[config.numLayers()][];
        double[][] channels = new double[config.numLayers()][];
        for (int l = 0; l < config.numLayers(); l++) {
            LlamaConfig.LayerDims d = config.layer(l);
            DecoderLayerWeights w = model.layer(l);
            heads[l] = MetricInitialisation.wandaSpHeadScores(
                    w.o().toFloatArray(),
                    attention[l],
                    config.hiddenSize(),
                    d.numHeads(),
                    d.numKvHeads(),
                    config.headDim());
            channels[l] = MetricInitialisation.wandaSpChannelScores(
                    w.down().toFloatArray(), down[l], config.hiddenSize(), d.intermediateSize());
        }
        return MetricInitialisation.UnitScores.of(heads, channels);
    }
}
