package dev.espalier.engine.runtime;

/** The pruning pipeline failed after its restarts were used up; the message says which call failed and why. */
public final class PipelineFailedException extends RuntimeException {
    public PipelineFailedException(String message) {
        super(message);
    }
}
