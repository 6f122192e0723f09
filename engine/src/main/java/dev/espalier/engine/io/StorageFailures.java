package dev.espalier.engine.io;

import java.nio.file.AccessDeniedException;
import java.nio.file.ReadOnlyFileSystemException;
import java.util.List;

/**
 * Failures of the storage under a run that retrying cannot cure: the disk or quota is full, the file system is
 * read-only, permission is denied. A pipeline stops at once on them (instead of redoing a layer's work to fail again)
 * and says what to fix; the run resumes once it is fixed.
 */
public final class StorageFailures {
    private static final List<String> LASTING =
            List.of("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied");

    private StorageFailures() {}

    /** Whether {@code failure} or one of its causes is a lasting storage failure. */
    public static boolean isLasting(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof ReadOnlyFileSystemException || t instanceof AccessDeniedException) {
                return true;
            }
            String message = t.getMessage();
            if (message != null && LASTING.stream().anyMatch(message::contains)) {
                return true;
            }
        }
        return false;
    }
}
