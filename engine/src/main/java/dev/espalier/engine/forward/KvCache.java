package dev.espalier.engine.forward;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;

/** Keys and values of every layer for positions [0, length), for incremental decoding and for windowed prefill. */
public final class KvCache {
    private final Tensor[] keys; // per layer (capacity, kvHeads * headDim)
    private final Tensor[] values; // per layer (capacity, kvHeads * headDim)
    private final int capacity;
    private int length;

    public KvCache(Arena arena, LlamaConfig config, int capacity) {
        this.capacity = capacity;
        int layers = config.numLayers();
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            int width = Math.max(1, config.layer(l).numKvHeads() * config.headDim());
            keys[l] = Tensor.allocate(arena, DType.F32, capacity, width);
            values[l] = Tensor.allocate(arena, DType.F32, capacity, width);
        }
    }

    public int capacity() {
        return capacity;
    }

    /** Positions already cached. */
    public int length() {
        return length;
    }

    /** Forgets every position (the memory is reused). */
    public void clear() {
        length = 0;
    }

    /** Forgets positions [positions, length): the next block is appended after the first {@code positions} (a shared prefix). */
    public void truncate(int positions) {
        if (positions < 0 || positions > length) {
            throw new IllegalArgumentException("cannot keep " + positions + " of " + length + " cached positions");
        }
        length = positions;
    }

    Tensor keys(int layer) {
        return keys[layer];
    }

    Tensor values(int layer) {
        return values[layer];
    }

    void advance(int positions) {
        if (length + positions > capacity) {
            throw new IllegalStateException(
                    "KV cache of " + capacity + " positions cannot take " + (length + positions));
        }
        length += positions;
    }
}
