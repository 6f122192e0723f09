package dev.espalier.engine.runtime.store;

import java.nio.file.Path;

/**
 * A file of a run directory that does not match what was committed (missing, truncated, wrong checksum, unreadable).
 * The message names the file and what was wrong; the file is never handed out.
 */
public final class CorruptArtefactException extends RuntimeException {
    private final transient Path file;

    public CorruptArtefactException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /** The file that failed its check. */
    public Path file() {
        return file;
    }
}
