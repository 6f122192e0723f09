package dev.espalier.engine.export;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.model.ModelFormatException;
import dev.espalier.engine.io.CrashPoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * Writes a model as a Hugging Face folder (config, safetensors, tokenizer files) so that it appears whole or not at
 * all: everything goes into a hidden sibling folder that is renamed onto {@code output} at the end.
 */
public final class ModelExportJob {
    private ModelExportJob() {}

    public static void export(LlamaModel model, Path output, Map<Path, String> tokenizerFiles) {
        Path parent = output.toAbsolutePath().getParent();
        Path staging = parent.resolve("." + output.getFileName() + ".partial");
        try {
            Files.createDirectories(parent);
            AtomicFiles.deleteRecursively(staging);
            Files.createDirectories(staging);
            ModelExporter.exportHf(model, staging);
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
}
