package dev.espalier.engine.model;

import dev.espalier.kernels.DType;
import java.util.List;

/**
 * The architecture of a LLaMA-family decoder (llama, mistral, qwen2), as read from a Hugging Face
 * {@code config.json} or a llama2.c header. Per-layer dimensions may differ after structured pruning;
 * {@link #layers()} always has one entry per decoder layer.
 *
 * @param modelType        "llama", "mistral" or "qwen2"
 * @param hiddenSize       width of the residual stream (never pruned)
 * @param vocabSize        rows of the embedding and of the output head
 * @param headDim          width of one attention head
 * @param layers           per decoder layer: query heads, key/value heads, FFN width
 * @param ropeScaling      llama3-style frequency scaling, or null for none
 * @param attentionBias    q/k/v projections carry biases (qwen2; llama with attention_bias)
 * @param attentionOutputBias o_proj carries a bias (llama with attention_bias; FLAP's compensation)
 * @param mlpBias          gate/up/down carry biases (llama with mlp_bias; down only after FLAP compensation)
 * @param slidingWindow    mistral's attention window, or 0 for none
 * @param torchDtype       dtype the checkpoint stores its weights in
 */
public record LlamaConfig(
        String modelType,
        int hiddenSize,
        int vocabSize,
        int headDim,
        List<LayerDims> layers,
        int maxPositionEmbeddings,
        float rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean attentionOutputBias,
        boolean mlpBias,
        int slidingWindow,
        int bosTokenId,
        int eosTokenId,
        DType torchDtype) {

    public LlamaConfig {
        layers = List.copyOf(layers);
    }

    /** Dimensions of one decoder layer; heads are query heads, kvHeads the key/value heads they share. */
    public record LayerDims(int numHeads, int numKvHeads, int intermediateSize) {
        /** The dimensions of a layer's weights: heads from q/k rows, channels from gate rows. */
        public static LayerDims of(DecoderLayerWeights w, int headDim) {
            return new LayerDims(
                    w.q().rows() / headDim, w.k().rows() / headDim, w.gate().rows());
        }

        public LayerDims {
            if (numHeads < 0 || numKvHeads < 0 || intermediateSize < 0) {
                throw new IllegalArgumentException(
                        "negative layer dimension: " + numHeads + "/" + numKvHeads + "/" + intermediateSize);
            }
            if (numKvHeads == 0 ? numHeads != 0 : numHeads % numKvHeads != 0) {
                throw new IllegalArgumentException(
                        numHeads + " query heads cannot be shared by " + numKvHeads + " key/value heads");
            }
        }
    }

    /** Llama 3 rope scaling ("rope_type": "llama3"). */
    public record RopeScaling(
            double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositionEmbeddings) {}

    public int numLayers() {
        return layers.size();
    }

    /** This config with other per-layer dimensions (a structurally pruned model). */
    public LlamaConfig withLayers(List<LayerDims> newLayers) {
        return new LlamaConfig(
                modelType,
                hiddenSize,
                vocabSize,
                headDim,
                newLayers,
                maxPositionEmbeddings,
                rmsNormEps,
                ropeTheta,
                ropeScaling,
                tieWordEmbeddings,
                attentionBias,
                attentionOutputBias,
                mlpBias,
                slidingWindow,
                bosTokenId,
                eosTokenId,
                torchDtype);
    }

    /** This config with other bias flags (structured pruning folds compensation into o_proj / down_proj biases). */
    public LlamaConfig withBiases(boolean newAttentionBias, boolean newAttentionOutputBias, boolean newMlpBias) {
        return with(newAttentionBias, newAttentionOutputBias, newMlpBias, torchDtype);
    }

    /** This config for a checkpoint that stores its weights in {@code dtype}. */
    public LlamaConfig withTorchDtype(DType dtype) {
        return with(attentionBias, attentionOutputBias, mlpBias, dtype);
    }

    private LlamaConfig with(
            boolean newAttentionBias, boolean newAttentionOutputBias, boolean newMlpBias, DType newTorchDtype) {
        return new LlamaConfig(
                modelType,
                hiddenSize,
                vocabSize,
                headDim,
                layers,
                maxPositionEmbeddings,
                rmsNormEps,
                ropeTheta,
                ropeScaling,
                tieWordEmbeddings,
                newAttentionBias,
                newAttentionOutputBias,
                newMlpBias,
                slidingWindow,
                bosTokenId,
                eosTokenId,
                newTorchDtype);
    }

    public LayerDims layer(int i) {
        return layers.get(i);
    }

    /** True when every layer has the same dimensions (a stock Hugging Face config describes it). */
    public boolean isUniform() {
        return layers.stream().distinct().count() <= 1;
    }

    /** Parameters of the model, counting a tied output head once. */
    public long parameterCount() {
        long n = (long) vocabSize * hiddenSize * (tieWordEmbeddings ? 1 : 2) + hiddenSize;
        for (LayerDims d : layers) {
            long q = (long) d.numHeads() * headDim;
            long kv = (long) d.numKvHeads() * headDim;
            n += 2L * hiddenSize; // norms
            n += hiddenSize * (q + 2 * kv) + q * hiddenSize; // q, k, v, o
            n += 3L * hiddenSize * d.intermediateSize(); // gate, up, down
            if (attentionBias) {
                n += q + 2 * kv;
            }
            if (attentionOutputBias) {
                n += hiddenSize;
            }
            if (mlpBias) {
                n += 2L * d.intermediateSize() + hiddenSize;
            }
        }
        return n;
    }
}
