package dev.espalier.engine.forward;

import dev.espalier.kernels.Tensor;

/**
 * Observes the inputs of a decoder layer's linear maps during a forward pass; pruning methods accumulate their
 * statistics from these (the wanda/SparseGPT {@code add_batch} inputs). Tensors passed here are only valid
 * during the call: copy what must be kept. Default methods ignore everything.
 */
public interface LayerTap {
    LayerTap NONE = new LayerTap() {};

    /** Input of q/k/v (the normalised residual stream): x (n, hidden). */
    default void attentionInput(int layer, Tensor x) {}

    /** Input of o_proj (concatenated head outputs, masks applied): x (n, heads * headDim). */
    default void attentionOutput(int layer, Tensor x) {}

    /** Input of gate/up (the normalised residual stream after attention): x (n, hidden). */
    default void mlpInput(int layer, Tensor x) {}

    /** Input of down_proj (silu(gate) * up, masks applied): x (n, intermediate). */
    default void downInput(int layer, Tensor x) {}

    /** Whether {@link #attentionProbabilities} should be called (it costs a copy per head). */
    default boolean wantsAttentionProbabilities(int layer) {
        return false;
    }

    /** Softmax attention probabilities of one query head: p (n, keys), rows sum to 1 over keys ≤ position. */
    default void attentionProbabilities(int layer, int head, Tensor p) {}
}
