package dev.espalier.engine.model;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the read-only shared models: $ESPALIER_SHARED, else ../shared or ../../shared from the module directory.
 * Fails (never skips) when none exists, since these tests are meaningless without the real files.
 */
final class SharedFiles {
    private SharedFiles() {}

    static Path root() {
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

    static Path storiesBin() {
        return existing(root().resolve("models/stories260K/stories260K.bin"));
    }

    static Path storiesHf() {
        return existing(root().resolve("models/stories260K-hf"));
    }

    static Path storiesHfSharded() {
        return existing(root().resolve("models/stories260K-hf-sharded"));
    }

    static Path storiesHfBf16() {
        return existing(root().resolve("models/stories260K-hf-bf16"));
    }

    private static Path existing(Path p) {
        if (!Files.exists(p)) {
            throw new IllegalStateException("missing shared file " + p);
        }
        return p;
    }
}
