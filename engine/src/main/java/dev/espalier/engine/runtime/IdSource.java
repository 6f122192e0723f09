package dev.espalier.engine.runtime;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Activation handles of one pipeline generation. Ids come from one counter for the whole process, so the handles of
 * concurrent jobs never collide in the host's activation store.
 */
public final class IdSource {
    private static final AtomicLong NEXT = new AtomicLong(1);

    private final int generation;

    public IdSource(int generation) {
        this.generation = generation;
    }

    public int generation() {
        return generation;
    }

    /** A fresh handle of this generation for batch {@code batch}'s input of {@code layer}, on job worker {@code worker}. */
    public ActivationRef next(int worker, int layer, int batch) {
        return new ActivationRef(NEXT.getAndIncrement(), generation, worker, layer, batch);
    }
}
