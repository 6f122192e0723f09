package dev.espalier.engine.runtime.store;

/**
 * A folder that cannot be used as the run directory asked for: it belongs to another job, it is not a run directory,
 * or it was never finished being created. Bad input (exit code 2 on the command line).
 */
public final class RunDirectoryConflictException extends IllegalArgumentException {
    public RunDirectoryConflictException(String message) {
        super(message);
    }
}
