package dev.espalier.engine.model;

import java.nio.file.Path;

/** A model, tokenizer or data file that cannot be used; the message names the file and what was wrong. */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public ModelFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
