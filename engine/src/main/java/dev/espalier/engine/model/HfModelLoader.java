package dev.espalier.engine.model;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SequencedMap;

/**
 * Loads a Hugging Face LLaMA-family folder ({@code config.json} + {@code model.safetensors}, or the index and its
 * shards) into a {@link LlamaModel}. Every tensor the config implies must be present with exactly the implied shape
 * and dtype F32, F16 or BF16; tensors the config does not declare are refused (except rotary inv_freq buffers and a
 * stored lm_head of a tied model). Every weight is a zero-copy view of the mapped files in its stored dtype (F32, F16
 * or BF16): nothing is read until it is used, the kernels widen narrower weights as they read them, and a whole model
 * never has to fit in memory. The config keeps the checkpoint's torch_dtype.
 */
public final class HfModelLoader {
    private HfModelLoader() {}

    /**
     * Loads {@code folder}; the mappings belong to {@code arena} (closed by {@link LlamaModel#close}).
     *
     * @throws ModelFormatException naming the file and the problem (missing config.json or tensors, wrong shapes or dtypes)
     */
    public static LlamaModel load(Path folder, Arena arena) {
        Path configFile = folder.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelFormatException(folder, "has no config.json; expected a Hugging Face model folder");
        }
        LlamaConfig config = HfConfigReader.read(configFile);
        HfCheckpoint checkpoint = HfCheckpoint.open(folder, arena);
        SequencedMap<String, int[]> expected = HfTensorLayout.expectedShapes(config);

        List<String> missing = new ArrayList<>();
        for (String name : expected.keySet()) {
            if (checkpoint.fileOf(name) == null) {
                missing.add(name);
            }
        }
        if (!missing.isEmpty()) {
            throw new ModelFormatException(
                    checkpoint.source(),
                    "missing " + missing.size() + " tensor(s) that config.json implies: " + abbreviate(missing));
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : checkpoint.names()) {
            if (!expected.containsKey(name) && !ignorable(name, config)) {
                unexpected.add(name);
            }
        }
        if (!unexpected.isEmpty()) {
            throw new ModelFormatException(
                    checkpoint.source(),
                    unexpected.size() + " tensor(s) that config.json does not declare: " + abbreviate(unexpected)
                            + " (check attention_bias, mlp_bias, tie_word_embeddings, num_hidden_layers)");
        }
        return HfTensorLayout.assemble(
                config, name -> weight(checkpoint.fileOf(name), name, expected.get(name)), folder, arena);
    }

    /** A checked weight: a view of the mapped file in its stored dtype. */
    private static Tensor weight(SafetensorsFile file, String name, int[] shape) {
        SafetensorsFile.Entry e = file.entry(name);
        DType dtype = e.dtype();
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new ModelFormatException(
                    file.file(), name + " has dtype " + e.dtypeName() + ", expected F32, F16 or BF16");
        }
        if (!Arrays.equals(e.shape(), shape)) {
            throw new ModelFormatException(
                    file.file(),
                    name + " has shape " + Arrays.toString(e.shape()) + ", config expects " + Arrays.toString(shape));
        }
        return file.tensor(name);
    }

    private static boolean ignorable(String name, LlamaConfig config) {
        return name.endsWith(".rotary_emb.inv_freq")
                || (config.tieWordEmbeddings() && name.equals(HfTensorLayout.LM_HEAD));
    }

    private static String abbreviate(List<String> names) {
        int shown = Math.min(names.size(), 8);
        String list = String.join(", ", names.subList(0, shown));
        return names.size() > shown ? list + ", ... (" + (names.size() - shown) + " more)" : list;
    }
}
