package dev.espalier.engine.bench;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;

/**
 * The Gram matrix Σ xᵀx of one linear map's inputs in the dense model over calibration sequences: the problem a
 * layer-wise solver sees for that map, for studies of one solver on a real layer (the ALPS ablation).
 */
public final class DenseInputGram {
    private DenseInputGram() {}

    /** The Gram of {@code module}'s input in decoder layer {@code layer}; the caller closes it. */
    public static GramStatistics of(
            LlamaModel model, int layer, LinearModule module, int[][] calibration, TensorOps ops) {
        int width = module.weight(model.layer(layer)).cols();
        GramStatistics gram = new GramStatistics(width);
        LayerTap tap = new LayerTap() {
            private void take(int l, LinearModule.Input input, Tensor x) {
                if (l == layer && input == module.input()) {
                    gram.add(x, ops);
                }
            }

            @Override
            public void attentionInput(int l, Tensor x) {
                take(l, LinearModule.Input.ATTENTION, x);
            }

            @Override
            public void attentionOutput(int l, Tensor x) {
                take(l, LinearModule.Input.ATTENTION_OUTPUT, x);
            }

            @Override
            public void mlpInput(int l, Tensor x) {
                take(l, LinearModule.Input.MLP, x);
            }

            @Override
            public void downInput(int l, Tensor x) {
                take(l, LinearModule.Input.DOWN, x);
            }
        };
        int longest = 1;
        for (int[] sequence : calibration) {
            longest = Math.max(longest, sequence.length);
        }
        try (LlamaForward forward = new LlamaForward(model, ops, longest, longest)) {
            for (int[] sequence : calibration) {
                forward.forward(sequence, forward.newCache(sequence.length), null, tap, true);
            }
        }
        return gram;
    }
}
