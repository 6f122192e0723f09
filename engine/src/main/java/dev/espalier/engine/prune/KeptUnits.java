package dev.espalier.engine.prune;

import dev.espalier.engine.model.LlamaConfig;
import java.util.Arrays;
import java.util.Map;

/**
 * Which structural units of one decoder layer survive structured pruning: query heads and FFN channels, as sorted
 * indices into the layer's dense numbering. A key/value head survives iff at least one of its query heads does; every
 * surviving key/value group keeps the same number of query heads (so the compact layer is a valid GQA layer). The
 * hidden size is never pruned.
 *
 * @param queryHeads kept query heads, sorted, in 0 .. numHeads − 1
 * @param channels   kept FFN intermediate channels, sorted, in 0 .. intermediateSize − 1
 */
public record KeptUnits(int[] queryHeads, int[] channels) {

    public KeptUnits {
        queryHeads = queryHeads.clone();
        channels = channels.clone();
        requireSortedDistinct(queryHeads, "query heads");
        requireSortedDistinct(channels, "channels");
    }

    private static final String HEADS_KEY = "espalier_kept_query_heads";
    private static final String CHANNELS_KEY = "espalier_kept_channels";

    /** As string metadata (of a layer checkpoint): comma-separated indices. */
    public Map<String, String> toMetadata() {
        return Map.of(HEADS_KEY, join(queryHeads), CHANNELS_KEY, join(channels));
    }

    /** Read back from {@link #toMetadata()}; null when the metadata holds none (a checkpoint of an unstructured run). */
    public static KeptUnits fromMetadata(Map<String, String> metadata) {
        if (!metadata.containsKey(HEADS_KEY) || !metadata.containsKey(CHANNELS_KEY)) {
            return null;
        }
        return new KeptUnits(split(metadata.get(HEADS_KEY)), split(metadata.get(CHANNELS_KEY)));
    }

    private static String join(int[] a) {
        return String.join(",", Arrays.stream(a).mapToObj(Integer::toString).toList());
    }

    private static int[] split(String s) {
        return s.isEmpty()
                ? new int[0]
                : Arrays.stream(s.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /** Everything kept. */
    public static KeptUnits all(LlamaConfig.LayerDims dims) {
        return new KeptUnits(range(dims.numHeads()), range(dims.intermediateSize()));
    }

    /** The kept key/value heads (those with at least one kept query head), sorted. */
    public int[] kvHeads(LlamaConfig.LayerDims dense) {
        if (dense.numKvHeads() == 0) {
            return new int[0]; // a layer whose attention is pruned away already
        }
        int perGroup = dense.numHeads() / dense.numKvHeads();
        return Arrays.stream(queryHeads).map(h -> h / perGroup).distinct().toArray();
    }

    /** The compact layer's dimensions; checks that every kept group keeps the same number of query heads. */
    public LlamaConfig.LayerDims dims(LlamaConfig.LayerDims dense) {
        if (queryHeads.length > 0 && queryHeads[queryHeads.length - 1] >= dense.numHeads()) {
            throw new IllegalArgumentException(
                    "query head " + queryHeads[queryHeads.length - 1] + " out of range 0.." + (dense.numHeads() - 1));
        }
        if (channels.length > 0 && channels[channels.length - 1] >= dense.intermediateSize()) {
            throw new IllegalArgumentException(
                    "channel " + channels[channels.length - 1] + " out of range 0.." + (dense.intermediateSize() - 1));
        }
        if (dense.numKvHeads() == 0) {
            return new LlamaConfig.LayerDims(0, 0, channels.length);
        }
        int perGroup = dense.numHeads() / dense.numKvHeads();
        int[] kv = kvHeads(dense);
        int[] count = new int[dense.numKvHeads()];
        for (int h : queryHeads) {
            count[h / perGroup]++;
        }
        for (int g : kv) {
            if (count[g] != count[kv[0]]) {
                throw new IllegalArgumentException(
                        "every kept key/value group must keep the same number of query heads, got "
                                + Arrays.toString(count));
            }
        }
        return new LlamaConfig.LayerDims(queryHeads.length, kv.length, channels.length);
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        Arrays.setAll(r, i -> i);
        return r;
    }

    private static void requireSortedDistinct(int[] a, String what) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] < 0 || (i > 0 && a[i] <= a[i - 1])) {
                throw new IllegalArgumentException(
                        "kept " + what + " must be sorted, distinct and non-negative: " + Arrays.toString(a));
            }
        }
    }
}
