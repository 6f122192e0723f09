package dev.espalier.engine.tokenizer;

import java.util.Arrays;

/**
 * The merge rules of a score-driven BPE vocabulary: the pair (left id, right id) merges into one id when the
 * concatenation of the two pieces is itself a piece; the merged piece's score ranks the candidate merges.
 * A primitive open-addressing hash map from the packed pair {@code (left << 32) | right} to the merged id.
 */
final class MergeTable {
    private static final long EMPTY = -1L;

    private final float[] scores; // (number of real ids) score of each id; only merged ids are read
    private long[] keys; // (capacity) packed pairs, EMPTY where free
    private int[] values; // (capacity) merged id for the pair at the same slot
    private int size;

    /** @param scores score of every id of the vocabulary (higher merges first); not copied */
    MergeTable(float[] scores) {
        this.scores = scores;
        this.keys = new long[1024];
        this.values = new int[1024];
        Arrays.fill(keys, EMPTY);
    }

    /** Records that {@code left} followed by {@code right} merges into {@code merged}; ids must be non-negative. */
    void put(int left, int right, int merged) {
        if (2 * (size + 1) > keys.length) {
            grow();
        }
        if (insert(keys, values, pack(left, right), merged)) {
            size++;
        }
    }

    /** The id that {@code left right} merges into, or -1 when the pair does not merge (or either id is negative). */
    int merged(int left, int right) {
        if (left < 0 || right < 0) {
            return -1;
        }
        long key = pack(left, right);
        int mask = keys.length - 1;
        for (int slot = slot(key, mask); ; slot = (slot + 1) & mask) {
            long k = keys[slot];
            if (k == key) {
                return values[slot];
            }
            if (k == EMPTY) {
                return -1;
            }
        }
    }

    /** Score of a merged id. */
    float score(int id) {
        return scores[id];
    }

    int size() {
        return size;
    }

    private static long pack(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private static int slot(long key, int mask) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 32) & mask;
    }

    private static boolean insert(long[] keys, int[] values, long key, int value) {
        int mask = keys.length - 1;
        for (int slot = slot(key, mask); ; slot = (slot + 1) & mask) {
            if (keys[slot] == EMPTY) {
                keys[slot] = key;
                values[slot] = value;
                return true;
            }
            if (keys[slot] == key) {
                values[slot] = value;
                return false;
            }
        }
    }

    private void grow() {
        long[] newKeys = new long[keys.length * 2];
        int[] newValues = new int[keys.length * 2];
        Arrays.fill(newKeys, EMPTY);
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != EMPTY) {
                insert(newKeys, newValues, keys[i], values[i]);
            }
        }
        keys = newKeys;
        values = newValues;
    }
}
