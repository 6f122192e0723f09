package dev.espalier.engine.model;

import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.SequencedMap;

/** One decoder layer as a safetensors file with Hugging Face tensor names: the checkpoint unit of a pruning run. */
public final class LayerCheckpoint {
    private LayerCheckpoint() {}

    /** Writes layer {@code layer}'s weights (F32) to {@code channel}. */
    public static void write(FileChannel channel, LlamaConfig config, int layer, DecoderLayerWeights weights) throws IOException {
        try (Arena scratch = Arena.ofConfined()) {
            SequencedMap<String, Tensor> tensors = new LinkedHashMap<>();
            HfTensorLayout.putLayer(config, layer, weights, scratch, tensors);
            SafetensorsWriter.writeTo(channel, tensors, null);
        }
    }

    /** Reads layer {@code layer} from {@code file}, mapped in {@code arena}; every tensor's shape is checked against the config. */
    public static DecoderLayerWeights read(Path file, LlamaConfig config, int layer, Arena arena) {
        SafetensorsFile sf = SafetensorsFile.open(file, arena);
        SequencedMap<String, int[]> expected = HfTensorLayout.expectedShapes(config);
        return HfTensorLayout.layer(config, layer, name -> {
            if (!sf.contains(name)) {
                throw new ModelFormatException(file, "missing tensor " + name);
            }
            Tensor t = sf.tensor(name);
            if (!Arrays.equals(t.shape(), expected.get(name))) {
                throw new ModelFormatException(file, name + " has shape " + Arrays.toString(t.shape()) + ", config expects "
                        + Arrays.toString(expected.get(name)));
            }
            return t;
        });
    }
}
