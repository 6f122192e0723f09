package dev.espalier.engine.runtime.store;

import dev.espalier.protocol.v1.Artefact;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Checks an artefact's file against its manifest entry (size, then SHA-256) before it is handed out. */
final class ArtefactChecks {

    private ArtefactChecks() {}

    /** The artefact's file under {@code dir}, once its size and checksum match; CorruptArtefactException otherwise. */
    static Path verifiedFile(Path dir, Artefact artefact) {
        Path file = dir.resolve(artefact.getRelativePath());
        try {
            checkSize(file, artefact, Files.size(file));
            checkSha(file, artefact, Checksums.sha256(file));
            return file;
        } catch (NoSuchFileException e) {
            throw missing(file, artefact);
        } catch (IOException e) {
            throw new CorruptArtefactException(file, "cannot be read (" + e.getMessage() + ")");
        }
    }

    /** The artefact's content, read once and checked in memory; CorruptArtefactException when it does not match. */
    static byte[] verifiedBytes(Path dir, Artefact artefact) {
        Path file = dir.resolve(artefact.getRelativePath());
        try {
            byte[] bytes = Files.readAllBytes(file);
            checkSize(file, artefact, bytes.length);
            checkSha(file, artefact, Checksums.sha256(bytes));
            return bytes;
        } catch (NoSuchFileException e) {
            throw missing(file, artefact);
        } catch (IOException e) {
            throw new CorruptArtefactException(file, "cannot be read (" + e.getMessage() + ")");
        }
    }

    private static CorruptArtefactException missing(Path file, Artefact artefact) {
        return new CorruptArtefactException(file, "missing (expected " + artefact.getSizeBytes() + " bytes)");
    }

    private static void checkSize(Path file, Artefact artefact, long size) {
        if (size < artefact.getSizeBytes()) {
            throw new CorruptArtefactException(
                    file, "truncated: " + size + " of " + artefact.getSizeBytes() + " bytes");
        }
        if (size > artefact.getSizeBytes()) {
            throw new CorruptArtefactException(file, size + " bytes, expected " + artefact.getSizeBytes());
        }
    }

    private static void checkSha(Path file, Artefact artefact, String found) {
        if (!found.equals(artefact.getSha256())) {
            throw new CorruptArtefactException(
                    file, "checksum mismatch (expected " + artefact.getSha256() + ", found " + found + ")");
        }
    }
}
