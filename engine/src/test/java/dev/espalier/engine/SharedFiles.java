package dev.espalier.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the read-only shared models and data: $ESPALIER_SHARED, else ../shared or ../../shared from the module
 * directory. Fails (never skips) when none exists, since these tests are meaningless without the real files.
 */
public final class SharedFiles {
    private SharedFiles() {}

    public static Path root() {
        String env = System.getenv("ESPALIER_SHARED");
        Path[] candidates = env != null && !env.isBlank()
                ? new Path[] {Path.of(env)}
                : new Path[] {Path.of("..", "shared"), Path.of("..", "..", "shared")};
        for (Path p : candidates) {
            if (Files.isDirectory(p.resolve("models"))) {
                return p.toAbsolutePath().normalize();
            }
        }
        throw new IllegalStateException("shared data folder not found (set ESPALIER_SHARED; tried "
                + java.util.Arrays.toString(candidates) + " from " + Path.of("").toAbsolutePath() + ")");
    }

    /** A file or folder under the shared root, which must exist. */
    public static Path path(String relative) {
        Path p = root().resolve(relative);
        if (!Files.exists(p)) {
            throw new IllegalStateException("missing shared file " + p);
        }
        return p;
    }

    /** A shared text file's content (UTF-8). */
    public static String text(String relative) {
        try {
            return Files.readString(path(relative), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path storiesBin() {
        return path("models/stories260K/stories260K.bin");
    }

    public static Path storiesHf() {
        return path("models/stories260K-hf");
    }

    public static Path storiesHfSharded() {
        return path("models/stories260K-hf-sharded");
    }

    public static Path storiesHfBf16() {
        return path("models/stories260K-hf-bf16");
    }
}
