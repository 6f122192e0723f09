package dev.espalier.engine.model;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * One decoder layer as a safetensors file with Hugging Face tensor names: the checkpoint unit of a pruning run.
 *
 * <p>A layer's shapes follow its {@link LlamaConfig.LayerDims}. The overloads without dims use the config's own dims
 * of that layer (a dense run); a structurally pruned (compact) layer is written and read with its compact dims passed
 * explicitly, while the rest of the config (hidden size, head width, which biases exist) still comes from
 * {@code config}.
 */
public final class LayerCheckpoint {
    private LayerCheckpoint() {}

    /** Writes layer {@code layer}'s weights as F32 to {@code channel}, with the config's dims of that layer. */
    public static void write(FileChannel channel, LlamaConfig config, int layer, DecoderLayerWeights weights)
            throws IOException {
        write(channel, config, layer, config.layer(layer), weights);
    }

    /**
     * Writes layer {@code layer}'s weights as F32 to {@code channel}; {@code dims} are the layer's actual dims (compact
     * after structured pruning). A bias the config declares but the layer lacks is written as zeros.
     */
    public static void write(
            FileChannel channel, LlamaConfig config, int layer, LlamaConfig.LayerDims dims, DecoderLayerWeights weights)
            throws IOException {
        write(channel, config, layer, dims, weights, null, DType.F32);
    }

    /**
     * As {@link #write(FileChannel, LlamaConfig, int, LlamaConfig.LayerDims, DecoderLayerWeights)}, with string
     * metadata, every tensor stored as {@code dtype} (rounded to nearest even where it is narrower than the weights').
     */
    public static void write(
            FileChannel channel,
            LlamaConfig config,
            int layer,
            LlamaConfig.LayerDims dims,
            DecoderLayerWeights weights,
            Map<String, String> metadata,
            DType dtype)
            throws IOException {
        LlamaConfig c = withLayer(config, layer, dims);
        try (Arena scratch = Arena.ofConfined()) {
            SequencedMap<String, Tensor> tensors = new LinkedHashMap<>();
            HfTensorLayout.putLayer(c, layer, weights, scratch, tensors);
            SafetensorsWriter.writeTo(channel, tensors, metadata, dtype);
        }
    }

    /** The string metadata a checkpoint was written with (empty when none). */
    public static Map<String, String> metadata(Path file) {
        try (Arena arena = Arena.ofConfined()) {
            return Map.copyOf(SafetensorsFile.open(file, arena).metadata());
        }
    }

    /** Reads layer {@code layer} from {@code file}, mapped in {@code arena}; every tensor's shape is checked against the config. */
    public static DecoderLayerWeights read(Path file, LlamaConfig config, int layer, Arena arena) {
        return read(file, config, layer, config.layer(layer), arena);
    }

    /**
     * Reads layer {@code layer} from {@code file}, mapped in {@code arena}; every tensor's shape is checked against
     * {@code dims} (the compact dims of a structurally pruned layer) and the config's hidden size, head width and biases.
     */
    public static DecoderLayerWeights read(
            Path file, LlamaConfig config, int layer, LlamaConfig.LayerDims dims, Arena arena) {
        LlamaConfig c = withLayer(config, layer, dims);
        SafetensorsFile sf = SafetensorsFile.open(file, arena);
        SequencedMap<String, int[]> expected = HfTensorLayout.expectedShapes(c);
        return HfTensorLayout.layer(c, layer, name -> {
            if (!sf.contains(name)) {
                throw new ModelFormatException(file, "missing tensor " + name);
            }
            Tensor t = sf.tensor(name);
            if (!Arrays.equals(t.shape(), expected.get(name))) {
                throw new ModelFormatException(
                        file,
                        name + " has shape " + Arrays.toString(t.shape()) + ", layer " + layer + " with "
                                + dims.numHeads() + " heads, " + dims.numKvHeads() + " key/value heads and FFN width "
                                + dims.intermediateSize() + " expects " + Arrays.toString(expected.get(name)));
            }
            return t;
        });
    }

    /**
     * Reads a checkpoint whatever pruning did to the layer's shape: its dims come from the q/k/gate shapes in the file,
     * and an o_proj / down_proj bias (structured pruning's compensation) is read when present. Shapes are then checked
     * as by {@link #read(Path, LlamaConfig, int, LlamaConfig.LayerDims, Arena)}.
     */
    public static DecoderLayerWeights readAsWritten(Path file, LlamaConfig config, int layer, Arena arena) {
        SafetensorsFile sf = SafetensorsFile.open(file, arena);
        int[] q = shapeOf(sf, file, HfTensorLayout.layerName(layer, "self_attn.q_proj.weight"));
        int[] k = shapeOf(sf, file, HfTensorLayout.layerName(layer, "self_attn.k_proj.weight"));
        int[] gate = shapeOf(sf, file, HfTensorLayout.layerName(layer, "mlp.gate_proj.weight"));
        if (q[0] % config.headDim() != 0 || k[0] % config.headDim() != 0) {
            throw new ModelFormatException(
                    file,
                    "q_proj/k_proj rows " + q[0] + "/" + k[0] + " are not multiples of the head width "
                            + config.headDim());
        }
        LlamaConfig.LayerDims dims;
        try {
            dims = new LlamaConfig.LayerDims(q[0] / config.headDim(), k[0] / config.headDim(), gate[0]);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, e.getMessage());
        }
        boolean outputBias =
                config.attentionOutputBias() || sf.contains(HfTensorLayout.layerName(layer, "self_attn.o_proj.bias"));
        boolean mlpBias = config.mlpBias() || sf.contains(HfTensorLayout.layerName(layer, "mlp.down_proj.bias"));
        return read(file, config.withBiases(config.attentionBias(), outputBias, mlpBias), layer, dims, arena);
    }

    private static int[] shapeOf(SafetensorsFile sf, Path file, String name) {
        if (!sf.contains(name)) {
            throw new ModelFormatException(file, "missing tensor " + name);
        }
        return sf.tensor(name).shape();
    }

    private static LlamaConfig withLayer(LlamaConfig c, int layer, LlamaConfig.LayerDims dims) {
        if (c.layer(layer).equals(dims)) {
            return c;
        }
        List<LlamaConfig.LayerDims> layers = new ArrayList<>(c.layers());
        layers.set(layer, dims);
        return c.withLayers(layers);
    }
}
