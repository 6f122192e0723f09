package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.KeptUnits;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * Whole-model structured surgery: applies {@link LayerSurgery} to every layer given one {@link KeptUnits} per layer,
 * and derives the matching config. A structurally pruned model exists in two {@link Form}s that compute the same
 * logits: compact (smaller tensors, per-layer dims in the config) and masked-dense (dense shapes with zeros).
 *
 * <p>The result shares the dense model's embeddings, final norm, head and arena; the new layer tensors live in the
 * caller's {@code arena}, which must stay open as long as the result is used (and the dense model must stay open too).
 */
public final class StructuredModels {
    private StructuredModels() {}

    /** How a structurally pruned model is materialised (and so exported). */
    public enum Form {
        /**
         * Physically smaller layers; config.json records each layer's heads, key/value heads and FFN width (Espalier's
         * {@code espalier_*} arrays when layers differ), which Espalier's loader reads back.
         */
        COMPACT,
        /**
         * Dense shapes with the removed units zeroed, and a config stock Hugging Face loaders accept (see
         * {@link #forStockLoaders}). No faster, but loadable anywhere.
         */
        MASKED_DENSE;

        /** {@code dense} pruned to {@code kept} in this form. */
        public LlamaModel apply(LlamaModel dense, List<KeptUnits> kept, Arena arena) {
            return switch (this) {
                case COMPACT -> compact(dense, kept, arena);
                case MASKED_DENSE -> {
                    LlamaModel masked = maskDense(dense, kept, arena);
                    yield masked.withLayers(forStockLoaders(masked.config()), masked.layers());
                }
            };
        }
    }

    /** The compact model: per-layer dims from {@code kept}, bias flags set for any layer that carries biases. */
    public static LlamaModel compact(LlamaModel dense, List<KeptUnits> kept, Arena arena) {
        LlamaConfig c = dense.config();
        requireOnePerLayer(c, kept);
        List<DecoderLayerWeights> layers = new ArrayList<>();
        List<LlamaConfig.LayerDims> dims = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            layers.add(LayerSurgery.compact(dense.layer(l), c.layer(l), c.headDim(), kept.get(l), arena));
            dims.add(kept.get(l).dims(c.layer(l)));
        }
        return dense.withLayers(withBiasesOf(c, dims, layers), layers);
    }

    /** The masked-dense twin: dense dims, removed units zeroed, bias flags set for any layer that carries biases. */
    public static LlamaModel maskDense(LlamaModel dense, List<KeptUnits> kept, Arena arena) {
        LlamaConfig c = dense.config();
        requireOnePerLayer(c, kept);
        List<DecoderLayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            layers.add(LayerSurgery.maskDense(dense.layer(l), c.layer(l), c.headDim(), kept.get(l), arena));
        }
        return dense.withLayers(withBiasesOf(c, c.layers(), layers), layers);
    }

    /**
     * The masked-dense form of a structurally pruned model: each compact layer of {@code pruned} scattered back into the
     * dense shapes of {@code dense} ({@link LayerSurgery#expand}), with a config stock loaders accept.
     */
    public static LlamaModel expand(LlamaModel pruned, LlamaConfig dense, List<KeptUnits> kept, Arena arena) {
        requireOnePerLayer(dense, kept);
        List<DecoderLayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < dense.numLayers(); l++) {
            layers.add(LayerSurgery.expand(pruned.layer(l), dense.layer(l), dense.headDim(), kept.get(l), arena));
        }
        return pruned.withLayers(forStockLoaders(withBiasesOf(dense, dense.layers(), layers)), layers);
    }

    /** One forward-pass mask per layer of the dense model ({@link LayerSurgery#mask}). */
    public static LayerMask[] masks(LlamaConfig dense, List<KeptUnits> kept) {
        requireOnePerLayer(dense, kept);
        LayerMask[] masks = new LayerMask[dense.numLayers()];
        for (int l = 0; l < masks.length; l++) {
            masks[l] = LayerSurgery.mask(dense.layer(l), kept.get(l));
        }
        return masks;
    }

    /**
     * {@code config} with layer dims {@code dims} and each bias flag turned on when any of {@code layers} carries such
     * a bias (flags already on stay on): q/k/v biases set attentionBias, an o_proj bias attentionOutputBias, a
     * gate/up/down bias mlpBias. Layers lacking a bias the config declares are exported with zeros there.
     */
    public static LlamaConfig withBiasesOf(
            LlamaConfig config, List<LlamaConfig.LayerDims> dims, List<DecoderLayerWeights> layers) {
        boolean attention = config.attentionBias();
        boolean attentionOutput = config.attentionOutputBias();
        boolean mlp = config.mlpBias();
        for (DecoderLayerWeights w : layers) {
            attention |= w.qBias() != null || w.kBias() != null || w.vBias() != null;
            attentionOutput |= w.oBias() != null;
            mlp |= w.gateBias() != null || w.upBias() != null || w.downBias() != null;
        }
        return copy(config, config.modelType(), dims, attention, attentionOutput, mlp);
    }

    /**
     * A config that stock Hugging Face loaders read with the same meaning. Hugging Face Llama's {@code attention_bias}
     * gives q, k, v <em>and</em> o biases, {@code mlp_bias} gate, up <em>and</em> down; so a llama model with an o_proj
     * bias (FLAP's compensation) declares all four attention biases (the missing ones are exported as zeros), and
     * likewise for the MLP. Qwen2 (q/k/v biases only) and Mistral (none) cannot declare such biases: a model of those
     * types that has them is described as the equivalent llama model when it has no sliding window, and refused
     * otherwise. Layers must be uniform (stock loaders know nothing of per-layer dims).
     *
     * @throws IllegalArgumentException when no stock config can describe the model
     */
    public static LlamaConfig forStockLoaders(LlamaConfig c) {
        if (!c.isUniform()) {
            throw new IllegalArgumentException(
                    "layers of different widths cannot be described to stock Hugging Face loaders; "
                            + "export the masked-dense form (dense shapes) instead");
        }
        boolean stock = switch (c.modelType()) {
            case "llama" -> c.attentionBias() == c.attentionOutputBias();
            case "qwen2" -> c.attentionBias() && !c.attentionOutputBias() && !c.mlpBias();
            default -> !c.attentionBias() && !c.attentionOutputBias() && !c.mlpBias();
        };
        if (stock) {
            return c;
        }
        if (!c.modelType().equals("llama") && c.slidingWindow() > 0) {
            throw new IllegalArgumentException("a " + c.modelType() + " model with a sliding window of "
                    + c.slidingWindow()
                    + " and biases its Hugging Face architecture lacks (attention " + c.attentionBias() + ", o_proj "
                    + c.attentionOutputBias() + ", mlp " + c.mlpBias()
                    + ") cannot be described to stock loaders; export it compact");
        }
        boolean attention = c.attentionBias() || c.attentionOutputBias();
        return copy(c, "llama", c.layers(), attention, attention, c.mlpBias());
    }

    private static LlamaConfig copy(
            LlamaConfig c,
            String type,
            List<LlamaConfig.LayerDims> dims,
            boolean attention,
            boolean attentionOutput,
            boolean mlp) {
        return new LlamaConfig(
                type,
                c.hiddenSize(),
                c.vocabSize(),
                c.headDim(),
                dims,
                c.maxPositionEmbeddings(),
                c.rmsNormEps(),
                c.ropeTheta(),
                c.ropeScaling(),
                c.tieWordEmbeddings(),
                attention,
                attentionOutput,
                mlp,
                c.slidingWindow(),
                c.bosTokenId(),
                c.eosTokenId(),
                c.torchDtype());
    }

    private static void requireOnePerLayer(LlamaConfig c, List<KeptUnits> kept) {
        if (kept.size() != c.numLayers()) {
            throw new IllegalArgumentException(
                    kept.size() + " kept-unit sets for a model of " + c.numLayers() + " layers");
        }
    }
}
