package dev.espalier.engine.forward;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.Arrays;

/**
 * The whole-model forward pass: embedding, every decoder layer ({@link DecoderLayerForward}), final RMSNorm and the
 * output head. Blocks of tokens run at once (prefill) and incrementally against a {@link KvCache} (decoding).
 * Structural masks and input taps are passed per call. Not thread-safe: it owns its scratch memory.
 */
public final class LlamaForward implements AutoCloseable {
    private final LlamaModel model;
    private final TensorOps ops;
    private final Arena arena;
    private final DecoderLayerForward layers;
    private final int maxContext;
    private final Tensor hidden; // (maxTokens, hiddenSize): the residual stream of the block
    private final Tensor normed; // (maxTokens, hiddenSize)
    private final Tensor logits; // (maxTokens, vocab)
    private KvCache sharedScratch; // reused by negativeLogLikelihoods

    /**
     * @param maxTokens  the most tokens one call may process
     * @param maxContext the most positions a sequence may reach (at most the model's context unless longer is wanted)
     */
    public LlamaForward(LlamaModel model, TensorOps ops, int maxTokens, int maxContext) {
        LlamaConfig config = model.config();
        this.model = model;
        this.ops = ops;
        this.maxContext = maxContext;
        this.arena = Arena.ofShared();
        this.layers = new DecoderLayerForward(config, ops, arena, maxTokens, maxContext);
        this.hidden = Tensor.allocate(arena, DType.F32, maxTokens, config.hiddenSize());
        this.normed = Tensor.allocate(arena, DType.F32, maxTokens, config.hiddenSize());
        this.logits = Tensor.allocate(arena, DType.F32, maxTokens, config.vocabSize());
    }

    public LlamaModel model() {
        return model;
    }

    public int maxTokens() {
        return layers.maxTokens();
    }

    /** A cache for one sequence of up to {@code capacity} positions, owned by this forward's arena. */
    public KvCache newCache(int capacity) {
        if (capacity > maxContext) {
            throw new IllegalArgumentException(
                    "cache of " + capacity + " positions exceeds the context of " + maxContext);
        }
        return new KvCache(arena, model.config(), capacity);
    }

    /**
     * Runs {@code tokens} at the cache's next positions through the model and appends their keys and values to
     * the cache. Returns the logits (n, vocab) of every token, or (1, vocab) of the last one when
     * {@code lastOnly}; the tensor is scratch memory, valid until the next call.
     *
     * @param masks one mask per layer, or null for none
     */
    public Tensor forward(int[] tokens, KvCache cache, LayerMask[] masks, LayerTap tap, boolean lastOnly) {
        int n = tokens.length;
        int start = cache.length();
        Tensor h = hidden.rowSlice(0, n);
        embed(tokens, h);
        LlamaConfig config = model.config();
        for (int l = 0; l < config.numLayers(); l++) {
            LayerMask mask = masks == null ? LayerMask.NONE : masks[l];
            layers.apply(l, model.layer(l), mask, tap, h, start, cache.keys(l), cache.values(l));
        }
        cache.advance(n);
        Tensor rows = lastOnly ? h.rowSlice(n - 1, n) : h;
        Tensor x = normed.rowSlice(0, rows.rows());
        ops.rmsNorm(rows, model.finalNorm(), config.rmsNormEps(), x);
        Tensor out = logits.rowSlice(0, rows.rows());
        ops.linear(x, model.lmHead(), out);
        return out;
    }

    /**
     * Negative log-likelihood (natural log) of tokens 1..n-1 of {@code window}, each given the tokens before it;
     * the window runs from position 0 in a fresh cache. Returns n - 1 values.
     */
    public double[] negativeLogLikelihoods(int[] window, LayerMask[] masks) {
        KvCache cache = scratchCache(window.length);
        Tensor out = forward(window, cache, masks, LayerTap.NONE, false);
        int[] targets = Arrays.copyOfRange(window, 1, window.length);
        double[] nll = new double[targets.length];
        ops.softmaxCrossEntropy(out.rowSlice(0, targets.length), targets, nll);
        return nll;
    }

    /** Copies the embedding rows of {@code tokens} into {@code h} (n, hiddenSize). */
    public void embed(int[] tokens, Tensor h) {
        Tensor table = model.embedTokens();
        for (int i = 0; i < tokens.length; i++) {
            int id = tokens[i];
            if (id < 0 || id >= table.rows()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + table.rows());
            }
            table.rowSlice(id, id + 1).copyInto(h.rowSlice(i, i + 1));
        }
    }

    private KvCache scratchCache(int positions) {
        if (sharedScratch == null || sharedScratch.capacity() < positions) {
            sharedScratch = newCache(Math.min(maxContext, Math.max(positions, maxTokens())));
        }
        sharedScratch.clear();
        return sharedScratch;
    }

    @Override
    public void close() {
        arena.close();
    }
}
