package dev.espalier.engine.model;

import dev.espalier.engine.io.CrashPoints;
import dev.espalier.engine.io.OutputFolder;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
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
     * Writes {@code model} as the Hugging Face folder {@code output} of job {@code jobId} (config, safetensors,
     * tokenizer files: each key of {@code tokenizerFiles} copied under its value, and {@link OutputFolder#MARKER}) so
     * that it appears whole or not at all: everything goes into a staging sibling that is renamed onto {@code output}
     * at the end. What is at {@code output} is replaced only as {@link OutputFolder} allows (an Espalier output of the
     * same job, or of another with {@code overwrite}); anything else is refused before anything is written.
     *
     * @throws OutputFolder.OutputConflictException when {@code output} may not be replaced
     * @throws ModelFormatException naming {@code output} when it cannot be written
     */
    public static void export(
            LlamaModel model, Path output, Map<Path, String> tokenizerFiles, String jobId, boolean overwrite) {
        OutputFolder.checkReplaceable(output, jobId, overwrite);
        try {
            Path staging = OutputFolder.prepareStaging(output);
            exportHf(model, staging);
            for (Map.Entry<Path, String> f : tokenizerFiles.entrySet()) {
                Files.copy(f.getKey(), staging.resolve(f.getValue()), StandardCopyOption.REPLACE_EXISTING);
            }
            CrashPoints.reach("mid-export");
            OutputFolder.commit(staging, output, jobId, overwrite);
        } catch (IOException | UncheckedIOException e) {
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
        LlamaConfig f32 = new LlamaConfig(
                c.modelType(),
                c.hiddenSize(),
                c.vocabSize(),
                c.headDim(),
                c.layers(),
                c.maxPositionEmbeddings(),
                c.rmsNormEps(),
                c.ropeTheta(),
                c.ropeScaling(),
                c.tieWordEmbeddings(),
                c.attentionBias(),
                c.attentionOutputBias(),
                c.mlpBias(),
                c.slidingWindow(),
                c.bosTokenId(),
                c.eosTokenId(),
                DType.F32);
        HfConfigWriter.write(f32, folder.resolve("config.json"));
    }
}
