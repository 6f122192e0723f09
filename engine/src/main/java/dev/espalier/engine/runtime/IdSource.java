package dev.espalier.engine.runtime;

import java.util.concurrent.atomic.AtomicLong;

/** Unique activation ids within one job. */
public final class IdSource {
    private final AtomicLong next;

    /** Ids of generation g start at g·2⁴⁰, so a handle names the pipeline generation that made it. */
    public IdSource(int generation) {
        next = new AtomicLong((long) generation << 40);
    }

    public static int generationOf(long id) {
        return (int) (id >>> 40);
    }

    public long next() {
        return next.getAndIncrement();
    }

}
