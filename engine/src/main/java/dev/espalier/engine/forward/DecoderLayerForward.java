package dev.espalier.engine.forward;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;

/**
 * One LLaMA decoder layer applied to a block of consecutive tokens, in place on the residual stream:
 * {@code h += o_proj(attention(rope(q), rope(k), v))} on the RMS-normalised input, then
 * {@code h += down(silu(gate(x)) * up(x))} on the RMS-normalised result. Keys and values of the new tokens are
 * written to the caller's cache rows so the block attends to every earlier cached position (causal, GQA).
 * A layer with no heads (no FFN channels) skips that branch and adds only the branch's output bias, if it has one:
 * exactly what the dense layer computes with every head (channel) zeroed.
 * All math goes through {@link TensorOps}. Not thread-safe: it owns its scratch memory.
 */
public final class DecoderLayerForward {
    private final LlamaConfig config;
    private final TensorOps ops;
    private final LayerWorkspace ws;
    private final Tensor inverseFrequencies; // (headDim / 2)

    public DecoderLayerForward(LlamaConfig config, TensorOps ops, Arena arena, int maxTokens, int maxContext) {
        this.config = config;
        this.ops = ops;
        this.ws = new LayerWorkspace(arena, config, maxTokens, maxContext);
        this.inverseFrequencies =
                Tensor.ofFloats(arena, RopeFrequencies.inverseFrequencies(config), config.headDim() / 2);
    }

    public int maxTokens() {
        return ws.maxTokens;
    }

    /**
     * Runs layer {@code layer} on {@code hidden} (n, hiddenSize), the tokens at positions
     * [startPosition, startPosition + n). {@code keys} and {@code values} (capacity, kvHeads * headDim) hold the
     * earlier positions of this sequence; rows [startPosition, startPosition + n) are overwritten. The layer's widths are
     * those of {@code w} (at most the config's widest layer).
     * Modifies {@code hidden}, {@code keys}, {@code values}.
     */
    public void apply(
            int layer,
            DecoderLayerWeights w,
            LayerMask mask,
            LayerTap tap,
            Tensor hidden,
            int startPosition,
            Tensor keys,
            Tensor values) {
        int n = hidden.rows();
        int total = startPosition + n;
        if (n > ws.maxTokens || total > ws.maxContext || total > keys.rows()) {
            throw new IllegalArgumentException(
                    "block of " + n + " tokens at position " + startPosition + " exceeds the workspace (" + ws.maxTokens
                            + " tokens, context " + Math.min(ws.maxContext, keys.rows()) + ")");
        }
        LlamaConfig.LayerDims dims =
                LlamaConfig.LayerDims.of(w, config.headDim()); // a layer being pruned may be narrower than the config's
        int kvWidth = dims.numKvHeads() * config.headDim();
        if (keys.cols() > kvWidth) { // a cache sized for a wider layer
            keys = keys.columnSlice(0, kvWidth);
            values = values.columnSlice(0, kvWidth);
        }
        Tensor x = LayerWorkspace.view(ws.normed, n, config.hiddenSize());
        Tensor projected = LayerWorkspace.view(ws.projected, n, config.hiddenSize());
        if (dims.numHeads() > 0) {
            ops.rmsNorm(hidden, w.inputNorm(), config.rmsNormEps(), x);
            tap.attentionInput(layer, x);
            Tensor attention = attention(layer, dims, w, mask, tap, x, startPosition, keys, values);
            tap.attentionOutput(layer, attention);
            ops.linear(attention, w.o(), projected);
            addBias(w.oBias(), projected);
            ops.add(projected, hidden);
        } else {
            addBias(w.oBias(), hidden); // a layer without heads adds only its o_proj bias (FLAP's compensation), if any
        }
        if (dims.intermediateSize() > 0) {
            ops.rmsNorm(hidden, w.postAttentionNorm(), config.rmsNormEps(), x);
            tap.mlpInput(layer, x);
            Tensor gate = LayerWorkspace.view(ws.gate, n, dims.intermediateSize());
            Tensor up = LayerWorkspace.view(ws.up, n, dims.intermediateSize());
            ops.linear(x, w.gate(), gate);
            addBias(w.gateBias(), gate);
            ops.linear(x, w.up(), up);
            addBias(w.upBias(), up);
            ops.siluMul(gate, up, up);
            if (mask.channels() != null) {
                ops.mulRowVector(LayerWorkspace.maskTensor(ws.channelMask, mask.channels()), up);
            }
            tap.downInput(layer, up);
            ops.linear(up, w.down(), projected);
            addBias(w.downBias(), projected);
            ops.add(projected, hidden);
        } else {
            addBias(w.downBias(), hidden); // likewise a layer without FFN channels adds only its down_proj bias
        }
    }

    /** Multi-head causal attention of the block; returns the concatenated head outputs (n, heads * headDim). */
    private Tensor attention(
            int layer,
            LlamaConfig.LayerDims dims,
            DecoderLayerWeights w,
            LayerMask mask,
            LayerTap tap,
            Tensor x,
            int startPosition,
            Tensor keys,
            Tensor values) {
        int n = x.rows();
        int total = startPosition + n;
        int headDim = config.headDim();
        int heads = dims.numHeads();
        int groupSize = heads / dims.numKvHeads();
        Tensor q = LayerWorkspace.view(ws.queries, n, heads * headDim);
        Tensor newKeys = keys.rowSlice(startPosition, total);
        Tensor newValues = values.rowSlice(startPosition, total);
        ops.linear(x, w.q(), q);
        addBias(w.qBias(), q);
        ops.linear(x, w.k(), newKeys);
        addBias(w.kBias(), newKeys);
        ops.linear(x, w.v(), newValues);
        addBias(w.vBias(), newValues);
        ops.rope(q, headDim, startPosition, inverseFrequencies);
        ops.rope(newKeys, headDim, startPosition, inverseFrequencies);

        Tensor attention = LayerWorkspace.view(ws.attention, n, heads * headDim);
        Tensor scores = LayerWorkspace.view(ws.scores, n, total);
        Tensor cachedKeys = keys.rowSlice(0, total);
        Tensor cachedValues = values.rowSlice(0, total);
        float scale = (float) (1.0 / Math.sqrt(headDim));
        boolean wantsProbabilities = tap.wantsAttentionProbabilities(layer);
        for (int h = 0; h < heads; h++) {
            int g = h / groupSize;
            Tensor out = attention.columnSlice(h * headDim, (h + 1) * headDim);
            float keep = mask.heads() == null ? 1f : mask.heads()[h];
            if (keep == 0f) {
                out.zero();
                continue;
            }
            ops.gemm(
                    false,
                    true,
                    1f,
                    q.columnSlice(h * headDim, (h + 1) * headDim),
                    cachedKeys.columnSlice(g * headDim, (g + 1) * headDim),
                    0f,
                    scores);
            ops.causalSoftmax(scores, startPosition, scale, config.slidingWindow());
            if (wantsProbabilities) {
                tap.attentionProbabilities(layer, h, scores);
            }
            ops.gemm(false, false, keep, scores, cachedValues.columnSlice(g * headDim, (g + 1) * headDim), 0f, out);
        }
        return attention;
    }

    private void addBias(Tensor bias, Tensor y) {
        if (bias != null) {
            ops.addRowVector(bias, y);
        }
    }
}
