package dev.espalier.engine.model;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.io.CrashPoints;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.SequencedMap;

/**
 * Writes a {@link LlamaModel} as a Hugging Face folder: {@code model.safetensors} (F32, Hugging Face names and order,
 * {@code __metadata__ {"format": "pt"}}, no lm_head when tied) and then {@code config.json} (torch_dtype float32,
 * Espalier's per-layer arrays when layers differ). Each file is written atomically; config.json comes last, so a
 * folder with a config.json always has its weights.
 */
public final class ModelExporter {
    private ModelExporter() {}

    /**
     * Writes {@code model} as a Hugging Face folder {@code output} (config, safetensors, tokenizer files: each key of
     * {@code tokenizerFiles} copied under its value) so that it appears whole or not at all: everything goes into a
     * hidden sibling folder that is renamed onto {@code output} at the end, replacing what was there.
     *
     * @throws ModelFormatException naming {@code output} when it cannot be written
     */
    public static void export(LlamaModel model, Path output, Map<Path, String> tokenizerFiles) {
        Path parent = output.toAbsolutePath().getParent();
        Path staging = parent.resolve("." + output.getFileName() + ".partial");
        try {
            Files.createDirectories(parent);
            AtomicFiles.deleteRecursively(staging);
            Files.createDirectories(staging);
            exportHf(model, staging);
            for (Map.Entry<Path, String> f : tokenizerFiles.entrySet()) {
                Files.copy(f.getKey(), staging.resolve(f.getValue()), StandardCopyOption.REPLACE_EXISTING);
            }
            CrashPoints.reach("mid-export");
            AtomicFiles.deleteRecursively(output);
            Files.move(staging, output, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new ModelFormatException(output, "cannot export the model (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Exports {@code model} into {@code folder} (created if needed; existing files of the same names are replaced).
     * Other files in the folder (tokenizer files) are left alone.
     *
     * @throws ModelFormatException naming the file that cannot be written
     */
    public static void exportHf(LlamaModel model, Path folder) {
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw IoFailures.of(folder, "create the folder", e);
        }
        try (Arena scratch = Arena.ofConfined()) {
            SequencedMap<String, Tensor> tensors = HfTensorLayout.tensorsOf(model, scratch);
            SafetensorsWriter.write(folder.resolve(HfCheckpoint.SINGLE), tensors, Map.of("format", "pt"));
        }
        LlamaConfig c = model.config();
        LlamaConfig f32 = new LlamaConfig(c.modelType(), c.hiddenSize(), c.vocabSize(), c.headDim(), c.layers(),
                c.maxPositionEmbeddings(), c.rmsNormEps(), c.ropeTheta(), c.ropeScaling(), c.tieWordEmbeddings(),
                c.attentionBias(), c.attentionOutputBias(), c.mlpBias(), c.slidingWindow(), c.bosTokenId(), c.eosTokenId(), DType.F32);
        HfConfigWriter.write(f32, folder.resolve("config.json"));
    }
}
