package dev.espalier.engine.model;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.function.Function;

/**
 * The tensors of a LLaMA-family checkpoint under their Hugging Face names ({@code model.embed_tokens.weight},
 * {@code model.layers.N.self_attn.q_proj.weight}, ...) with the shapes a config implies, in the order Hugging Face
 * lists them: embedding; per layer q, k, v, o, gate, up, down (each weight followed by its bias), input and
 * post-attention norms; final norm; lm_head (absent when tied).
 */
final class HfTensorLayout {
    static final String EMBED = "model.embed_tokens.weight";
    static final String FINAL_NORM = "model.norm.weight";
    static final String LM_HEAD = "lm_head.weight";

    /** One tensor of a decoder layer; {@code component} is its position in {@link DecoderLayerWeights}. */
    private record Slot(int component, String suffix, Presence presence, ShapeOf shape) {}

    private enum Presence {
        ALWAYS,
        ATTENTION_BIAS,
        ATTENTION_OUTPUT_BIAS,
        MLP_BIAS
    }

    @FunctionalInterface
    private interface ShapeOf {
        int[] of(LlamaConfig c, LlamaConfig.LayerDims d);
    }

    /** In Hugging Face order; component indices follow DecoderLayerWeights' record components. */
    private static final List<Slot> SLOTS = List.of(
            new Slot(1, "self_attn.q_proj.weight", Presence.ALWAYS, (c, d) -> new int[] {q(c, d), c.hiddenSize()}),
            new Slot(5, "self_attn.q_proj.bias", Presence.ATTENTION_BIAS, (c, d) -> new int[] {q(c, d)}),
            new Slot(2, "self_attn.k_proj.weight", Presence.ALWAYS, (c, d) -> new int[] {kv(c, d), c.hiddenSize()}),
            new Slot(6, "self_attn.k_proj.bias", Presence.ATTENTION_BIAS, (c, d) -> new int[] {kv(c, d)}),
            new Slot(3, "self_attn.v_proj.weight", Presence.ALWAYS, (c, d) -> new int[] {kv(c, d), c.hiddenSize()}),
            new Slot(7, "self_attn.v_proj.bias", Presence.ATTENTION_BIAS, (c, d) -> new int[] {kv(c, d)}),
            new Slot(4, "self_attn.o_proj.weight", Presence.ALWAYS, (c, d) -> new int[] {c.hiddenSize(), q(c, d)}),
            new Slot(8, "self_attn.o_proj.bias", Presence.ATTENTION_OUTPUT_BIAS, (c, d) -> new int[] {c.hiddenSize()}),
            new Slot(10, "mlp.gate_proj.weight", Presence.ALWAYS, (c, d) ->
                    new int[] {d.intermediateSize(), c.hiddenSize()}),
            new Slot(13, "mlp.gate_proj.bias", Presence.MLP_BIAS, (c, d) -> new int[] {d.intermediateSize()}),
            new Slot(11, "mlp.up_proj.weight", Presence.ALWAYS, (c, d) ->
                    new int[] {d.intermediateSize(), c.hiddenSize()}),
            new Slot(14, "mlp.up_proj.bias", Presence.MLP_BIAS, (c, d) -> new int[] {d.intermediateSize()}),
            new Slot(12, "mlp.down_proj.weight", Presence.ALWAYS, (c, d) ->
                    new int[] {c.hiddenSize(), d.intermediateSize()}),
            new Slot(15, "mlp.down_proj.bias", Presence.MLP_BIAS, (c, d) -> new int[] {c.hiddenSize()}),
            new Slot(0, "input_layernorm.weight", Presence.ALWAYS, (c, d) -> new int[] {c.hiddenSize()}),
            new Slot(9, "post_attention_layernorm.weight", Presence.ALWAYS, (c, d) -> new int[] {c.hiddenSize()}));

    private HfTensorLayout() {}

    static String layerName(int layer, String suffix) {
        return "model.layers." + layer + "." + suffix;
    }

    /** Every tensor name the config implies, with its shape, in Hugging Face order. */
    static SequencedMap<String, int[]> expectedShapes(LlamaConfig c) {
        SequencedMap<String, int[]> out = new LinkedHashMap<>();
        out.put(EMBED, new int[] {c.vocabSize(), c.hiddenSize()});
        for (int i = 0; i < c.numLayers(); i++) {
            for (Slot s : SLOTS) {
                if (present(c, s.presence())) {
                    out.put(layerName(i, s.suffix()), s.shape().of(c, c.layer(i)));
                }
            }
        }
        out.put(FINAL_NORM, new int[] {c.hiddenSize()});
        if (!c.tieWordEmbeddings()) {
            out.put(LM_HEAD, new int[] {c.vocabSize(), c.hiddenSize()});
        }
        return out;
    }

    /**
     * Builds a model whose tensors are {@code tensors.apply(name)} for the names of {@link #expectedShapes}; biases the
     * config does not declare are null, and a tied head is the embedding tensor itself.
     */
    static LlamaModel assemble(LlamaConfig c, Function<String, Tensor> tensors, Path source, Arena arena) {
        Tensor embed = tensors.apply(EMBED);
        List<DecoderLayerWeights> layers = new ArrayList<>(c.numLayers());
        for (int i = 0; i < c.numLayers(); i++) {
            layers.add(layer(c, i, tensors));
        }
        Tensor norm = tensors.apply(FINAL_NORM);
        Tensor head = c.tieWordEmbeddings() ? embed : tensors.apply(LM_HEAD);
        return new LlamaModel(c, embed, layers, norm, head, source, arena);
    }

    /** Decoder layer {@code i} from {@code tensors.apply(name)}; biases the config does not declare are null. */
    static DecoderLayerWeights layer(LlamaConfig c, int i, Function<String, Tensor> tensors) {
        Tensor[] parts = new Tensor[16];
        for (Slot s : SLOTS) {
            if (present(c, s.presence())) {
                parts[s.component()] = tensors.apply(layerName(i, s.suffix()));
            }
        }
        return new DecoderLayerWeights(
                parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], parts[7], parts[8], parts[9],
                parts[10], parts[11], parts[12], parts[13], parts[14], parts[15]);
    }

    /**
     * The model's tensors under Hugging Face names, in Hugging Face order, each in its own dtype (views, not copies). A bias the config declares but the layer lacks (e.g. only down_proj after FLAP compensation)
     * is written as zeros allocated in {@code scratch}; a bias the config does not declare is an error.
     */
    static SequencedMap<String, Tensor> tensorsOf(LlamaModel model, Arena scratch) {
        LlamaConfig c = model.config();
        SequencedMap<String, Tensor> out = new LinkedHashMap<>();
        out.put(EMBED, model.embedTokens());
        for (int i = 0; i < c.numLayers(); i++) {
            putLayer(c, i, model.layer(i), scratch, out);
        }
        out.put(FINAL_NORM, model.finalNorm());
        if (!c.tieWordEmbeddings()) {
            out.put(LM_HEAD, model.lmHead());
        }
        return out;
    }

    /** Adds decoder layer {@code i}'s tensors to {@code out} under Hugging Face names (see {@link #tensorsOf}). */
    static void putLayer(LlamaConfig c, int i, DecoderLayerWeights w, Arena scratch, SequencedMap<String, Tensor> out) {
        Tensor[] parts = components(w);
        for (Slot s : SLOTS) {
            String name = layerName(i, s.suffix());
            Tensor t = parts[s.component()];
            if (!present(c, s.presence())) {
                if (t != null) {
                    throw new IllegalArgumentException(name + " is set but the config declares no "
                            + s.presence().name().toLowerCase());
                }
                continue;
            }
            out.put(
                    name,
                    t != null
                            ? t
                            : Tensor.allocate(scratch, DType.F32, s.shape().of(c, c.layer(i))));
        }
    }

    private static Tensor[] components(DecoderLayerWeights w) {
        return new Tensor[] {
            w.inputNorm(),
            w.q(),
            w.k(),
            w.v(),
            w.o(),
            w.qBias(),
            w.kBias(),
            w.vBias(),
            w.oBias(),
            w.postAttentionNorm(),
            w.gate(),
            w.up(),
            w.down(),
            w.gateBias(),
            w.upBias(),
            w.downBias()
        };
    }

    private static boolean present(LlamaConfig c, Presence p) {
        return switch (p) {
            case ALWAYS -> true;
            case ATTENTION_BIAS -> c.attentionBias();
            case ATTENTION_OUTPUT_BIAS -> c.attentionOutputBias();
            case MLP_BIAS -> c.mlpBias();
        };
    }

    private static int q(LlamaConfig c, LlamaConfig.LayerDims d) {
        return d.numHeads() * c.headDim();
    }

    private static int kv(LlamaConfig c, LlamaConfig.LayerDims d) {
        return d.numKvHeads() * c.headDim();
    }
}
