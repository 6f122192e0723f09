package dev.espalier.engine.model;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Turns an {@link IOException} on a model file into a one-line {@link ModelFormatException} naming the file. */
final class IoFailures {
    private IoFailures() {}

    /** "cannot read: no such file", "cannot write: permission denied", or the exception's own message. */
    static ModelFormatException of(Path file, String action, IOException e) {
        String why;
        if (e instanceof NoSuchFileException) {
            why = "no such file";
        } else if (e instanceof AccessDeniedException) {
            why = "permission denied";
        } else {
            why = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " " + e.getMessage());
        }
        return new ModelFormatException(file, "cannot " + action + ": " + why, e);
    }
}
