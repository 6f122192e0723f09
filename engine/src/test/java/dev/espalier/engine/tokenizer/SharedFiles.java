package dev.espalier.engine.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The read-only models and data in {@code shared/}: $ESPALIER_SHARED, else {@code ../shared} from the module. */
final class SharedFiles {
    private SharedFiles() {
    }

    /** The shared folder; fails (never skips) when it is missing. */
    static Path root() {
        String env = System.getenv("ESPALIER_SHARED");
        Path root = env != null && !env.isBlank() ? Path.of(env) : Path.of("..", "shared");
        if (!Files.isDirectory(root.resolve("models"))) {
            throw new IllegalStateException("shared folder not found at " + root.toAbsolutePath()
                    + " (no models/ inside); set ESPALIER_SHARED to the folder that holds models/ and data/");
        }
        return root;
    }

    static Path path(String relative) {
        Path p = root().resolve(relative);
        if (!Files.exists(p)) {
            throw new IllegalStateException("missing shared file " + p.toAbsolutePath());
        }
        return p;
    }

    static String text(String relative) {
        try {
            return Files.readString(path(relative), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
