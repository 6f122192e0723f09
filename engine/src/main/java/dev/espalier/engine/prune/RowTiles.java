package dev.espalier.engine.prune;

import dev.espalier.kernels.TensorOps;

/**
 * Fixed tiles of an index range [0, count) run as tasks of {@link TensorOps#forEachTask}: the tiles depend on the
 * range and the tile size only, never on the thread count, so a loop whose tiles write disjoint outputs, each
 * computed as the serial loop would, gives the serial loop's bytes on any number of threads.
 */
final class RowTiles {
    /** Rows of an (out, in) matrix per tile: a few hundred KB of an LLaMA-sized row block. */
    static final int ROWS = 64;

    private RowTiles() {}

    /** One tile's range [from, to). */
    @FunctionalInterface
    interface Body {
        void run(int from, int to);
    }

    /** Runs {@code body} on the tiles of {@code size} indices of [0, count) on {@code ops}'s threads. */
    static void run(TensorOps ops, int count, int size, Body body) {
        int tiles = (count + size - 1) / size;
        ops.forEachTask(tiles, t -> body.run(t * size, Math.min(count, (t + 1) * size)));
    }
}
