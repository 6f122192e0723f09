package dev.espalier.engine.runtime;

/**
 * The pipeline stopped on a storage failure that no restart can cure (disk or quota full, read-only file system,
 * permission denied); the message names the file. The run resumes once the storage is fixed.
 */
public final class StorageFailedException extends RuntimeException {
    public StorageFailedException(String message) {
        super(message + " (free space or fix the file system, then resume the run)");
    }
}
