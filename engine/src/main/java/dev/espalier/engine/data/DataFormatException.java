package dev.espalier.engine.data;

import java.nio.file.Path;

/** A data file that cannot be used; the message names the file and what was wrong. */
public final class DataFormatException extends RuntimeException {
    public DataFormatException(Path file, String problem) {
        super(file + ": " + problem);
    }
}
