package dev.espalier.engine.model;

import static dev.espalier.engine.model.BrokenFiles.assertModelError;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.espalier.engine.SharedFiles;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelLoaderTest {
    @TempDir
    Path tmp;

    @Test
    void dispatchesOnWhatThePathIs() {
        Path hf = SharedFiles.storiesHf();
        assertEquals(hf, sourceOf(hf));
        assertEquals(hf.toAbsolutePath(), sourceOf(hf.resolve("model.safetensors")));
        assertEquals(hf.toAbsolutePath(), sourceOf(hf.resolve("config.json")));
        assertEquals(
                SharedFiles.storiesHfSharded().toAbsolutePath(),
                sourceOf(SharedFiles.storiesHfSharded().resolve("model-00002-of-00002.safetensors")));
        assertEquals(SharedFiles.storiesBin(), sourceOf(SharedFiles.storiesBin()));
    }

    @Test
    void explainsWhatItExpectsForAnythingElse() {
        String expected = "expected a Hugging Face folder with config.json or a llama2.c .bin file";
        assertModelError(tmp, () -> sourceOf(tmp), "is a folder without config.json; " + expected);
        Path text = BrokenFiles.write(tmp.resolve("notes.txt"), new byte[] {1});
        assertModelError(text, () -> sourceOf(text), "is not a model; " + expected);
        Path loose = BrokenFiles.write(tmp.resolve("loose.safetensors"), new byte[8]);
        assertModelError(loose, () -> sourceOf(loose), "is not a model; " + expected);
        Path absent = tmp.resolve("absent");
        assertModelError(absent, () -> sourceOf(absent), "does not exist; " + expected);
    }

    private static Path sourceOf(Path p) {
        try (Arena arena = Arena.ofConfined()) { // the caller owns the arena, also when loading fails
            return ModelLoader.load(p, arena).source();
        }
    }
}
