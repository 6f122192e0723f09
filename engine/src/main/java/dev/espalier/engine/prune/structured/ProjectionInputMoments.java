package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.kernels.Tensor;

/** Column moments of a layer's o_proj input (heads · headDim) and down_proj input (channels), fed by a forward pass. */
final class ProjectionInputMoments implements LayerTap {
    final ColumnMoments attention;
    final ColumnMoments down;

    ProjectionInputMoments(LlamaConfig.LayerDims dims, int headDim) {
        attention = new ColumnMoments(dims.numHeads() * headDim);
        down = new ColumnMoments(dims.intermediateSize());
    }

    @Override
    public void attentionOutput(int layer, Tensor x) {
        attention.add(x);
    }

    @Override
    public void downInput(int layer, Tensor x) {
        down.add(x);
    }
}
