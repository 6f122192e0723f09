package dev.espalier.engine.model;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a model from whatever the user points at: a Hugging Face folder (or a file in one) or a llama2.c .bin. */
public final class ModelLoader {
    static final String EXPECTED = "expected a Hugging Face folder with config.json or a llama2.c .bin file";

    private ModelLoader() {}

    /**
     * Dispatches on {@code path}: a directory with config.json, or config.json / a .safetensors file inside such a
     * directory, loads through {@link HfModelLoader}; a regular file ending in .bin through {@link Llama2cImporter}.
     * The weights belong to {@code arena} (use a shared arena when other threads read them); on failure whatever was
     * already mapped stays in the arena until the caller closes it.
     *
     * @throws ModelFormatException naming {@code path} for anything else
     */
    public static LlamaModel load(Path path, Arena arena) {
        if (Files.isDirectory(path)) {
            if (Files.isRegularFile(path.resolve("config.json"))) {
                return HfModelLoader.load(path, arena);
            }
            throw new ModelFormatException(path, "is a folder without config.json; " + EXPECTED);
        }
        if (!Files.exists(path)) {
            throw new ModelFormatException(path, "does not exist; " + EXPECTED);
        }
        String name = path.getFileName().toString();
        if (Files.isRegularFile(path) && name.endsWith(".bin")) {
            return Llama2cImporter.load(path, arena);
        }
        Path folder = path.toAbsolutePath().getParent();
        if ((name.endsWith(".safetensors") || name.equals("config.json"))
                && Files.isRegularFile(folder.resolve("config.json"))) {
            return HfModelLoader.load(folder, arena);
        }
        throw new ModelFormatException(path, "is not a model; " + EXPECTED);
    }
}
