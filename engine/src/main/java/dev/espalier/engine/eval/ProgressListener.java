package dev.espalier.engine.eval;

/** Receives progress of long work: {@code done} of {@code total} units (windows, layers, steps). */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (done, total) -> {};

    void progress(long done, long total);
}
