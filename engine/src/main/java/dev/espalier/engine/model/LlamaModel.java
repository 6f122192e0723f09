package dev.espalier.engine.model;

import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;

/**
 * A loaded LLaMA-family model: its configuration and weights. Weights live off-heap (memory-mapped from the
 * checkpoint or in {@link #arena()}); closing the model releases them.
 */
public final class LlamaModel implements AutoCloseable {
    private final LlamaConfig config;
    private final Tensor embedTokens; // (vocab, hidden)
    private final List<DecoderLayerWeights> layers; // one per decoder layer
    private final Tensor finalNorm; // (hidden)
    private final Tensor lmHead; // (vocab, hidden); the same tensor as embedTokens when tied
    private final Path source; // the file or folder it was loaded from
    private final Arena arena; // owns the mappings and any converted tensors

    public LlamaModel(
            LlamaConfig config,
            Tensor embedTokens,
            List<DecoderLayerWeights> layers,
            Tensor finalNorm,
            Tensor lmHead,
            Path source,
            Arena arena) {
        if (layers.size() != config.numLayers()) {
            throw new IllegalArgumentException(layers.size() + " layers for a config of " + config.numLayers());
        }
        this.config = config;
        this.embedTokens = embedTokens;
        this.layers = List.copyOf(layers);
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.source = source;
        this.arena = arena;
    }

    public LlamaConfig config() {
        return config;
    }

    public Tensor embedTokens() {
        return embedTokens;
    }

    public List<DecoderLayerWeights> layers() {
        return layers;
    }

    public DecoderLayerWeights layer(int i) {
        return layers.get(i);
    }

    public Tensor finalNorm() {
        return finalNorm;
    }

    public Tensor lmHead() {
        return lmHead;
    }

    public Path source() {
        return source;
    }

    public Arena arena() {
        return arena;
    }

    /** A model with the same embeddings, head and arena but other layer weights and config (pruned models). */
    public LlamaModel withLayers(LlamaConfig newConfig, List<DecoderLayerWeights> newLayers) {
        return new LlamaModel(newConfig, embedTokens, newLayers, finalNorm, lmHead, source, arena);
    }

    @Override
    public void close() {
        arena.close();
    }
}
