package dev.espalier.engine.forward;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;

/**
 * Scratch tensors of one decoder-layer forward, sized for at most {@code maxTokens} new tokens attending to at most
 * {@code maxContext} positions, and for the widest layer of the config. Not thread-safe: one per caller.
 */
final class LayerWorkspace {
    final int maxTokens;
    final int maxContext;
    final Tensor normed; // (maxTokens, hidden)
    final Tensor projected; // (maxTokens, hidden): o_proj and down_proj outputs before the residual add
    final Tensor queries; // (maxTokens, maxHeads * headDim)
    final Tensor attention; // (maxTokens, maxHeads * headDim): concatenated head outputs
    final Tensor scores; // (maxTokens, maxContext)
    final Tensor gate; // (maxTokens, maxIntermediate)
    final Tensor up; // (maxTokens, maxIntermediate); holds silu(gate) * up after the gate
    final Tensor headMask; // (maxHeads)
    final Tensor channelMask; // (maxIntermediate)

    LayerWorkspace(Arena arena, LlamaConfig config, int maxTokens, int maxContext) {
        this.maxTokens = maxTokens;
        this.maxContext = maxContext;
        int maxHeads = 1;
        int maxIntermediate = 1;
        for (LlamaConfig.LayerDims d : config.layers()) {
            maxHeads = Math.max(maxHeads, d.numHeads());
            maxIntermediate = Math.max(maxIntermediate, d.intermediateSize());
        }
        int hidden = config.hiddenSize();
        normed = Tensor.allocate(arena, DType.F32, maxTokens, hidden);
        projected = Tensor.allocate(arena, DType.F32, maxTokens, hidden);
        queries = Tensor.allocate(arena, DType.F32, maxTokens, maxHeads * config.headDim());
        attention = Tensor.allocate(arena, DType.F32, maxTokens, maxHeads * config.headDim());
        scores = Tensor.allocate(arena, DType.F32, maxTokens, maxContext);
        gate = Tensor.allocate(arena, DType.F32, maxTokens, maxIntermediate);
        up = Tensor.allocate(arena, DType.F32, maxTokens, maxIntermediate);
        headMask = Tensor.allocate(arena, DType.F32, maxHeads);
        channelMask = Tensor.allocate(arena, DType.F32, maxIntermediate);
    }

    /** The first {@code rows} rows and {@code cols} columns of a scratch matrix. */
    static Tensor view(Tensor scratch, int rows, int cols) {
        return Tensor.of(scratch.data(), DType.F32, rows, cols);
    }

    static Tensor maskTensor(Tensor scratch, float[] values) {
        Tensor t = Tensor.of(scratch.data(), DType.F32, values.length);
        for (int i = 0; i < values.length; i++) {
            t.setFlat(i, values[i]);
        }
        return t;
    }
}
