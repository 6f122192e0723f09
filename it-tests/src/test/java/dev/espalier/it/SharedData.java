package dev.espalier.it;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates ../shared (models and data); set ESPALIER_SHARED to override. Fails loudly when it is missing. */
public final class SharedData {
    private SharedData() {}

    public static Path root() {
        String env = System.getenv("ESPALIER_SHARED");
        Path root = env != null ? Path.of(env) : Path.of("..", "..", "shared");
        if (!Files.isDirectory(root.resolve("models"))) {
            throw new IllegalStateException("shared models and data not found at " + root.toAbsolutePath()
                    + " (set ESPALIER_SHARED to the folder holding models/ and data/)");
        }
        return root.toAbsolutePath().normalize();
    }

    public static Path model(String name) {
        return root().resolve("models").resolve(name);
    }

    public static Path data(String relative) {
        return root().resolve("data").resolve(relative);
    }
}
