package dev.espalier.engine.model;

import dev.espalier.kernels.Tensor;

/**
 * The weights of one decoder layer, row-major (out_features, in_features) as in Hugging Face checkpoints.
 * Biases are null when the architecture has none. Weights may be F32, F16 or BF16 views of a memory-mapped file
 * or F32 tensors of their own; the forward pass reads them through {@link dev.espalier.kernels.TensorOps}.
 */
public record DecoderLayerWeights(
        Tensor inputNorm, // (hidden)
        Tensor q, // (heads * headDim, hidden)
        Tensor k, // (kvHeads * headDim, hidden)
        Tensor v, // (kvHeads * headDim, hidden)
        Tensor o, // (hidden, heads * headDim)
        Tensor qBias, // (heads * headDim) or null
        Tensor kBias, // (kvHeads * headDim) or null
        Tensor vBias, // (kvHeads * headDim) or null
        Tensor oBias, // (hidden) or null
        Tensor postAttentionNorm, // (hidden)
        Tensor gate, // (intermediate, hidden)
        Tensor up, // (intermediate, hidden)
        Tensor down, // (hidden, intermediate)
        Tensor gateBias, // (intermediate) or null
        Tensor upBias, // (intermediate) or null
        Tensor downBias) { // (hidden) or null
}
