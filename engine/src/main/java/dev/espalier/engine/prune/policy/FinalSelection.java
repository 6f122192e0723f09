package dev.espalier.engine.prune.policy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The deterministic end of the method: per kind, globally across layers, keep exactly the k units with the highest
 * keep-probability. The official code thresholds at the value with ascending rank ⌊n(1 − r)⌋ and keeps every unit
 * ≥ it, so it keeps n − ⌊n(1 − r)⌋ units unless probabilities tie at the threshold (common: projection drives many to
 * exactly 0 or 1), when it keeps more. Here ties break towards the lower flat index (earlier layer, then lower unit),
 * so the count is exact.
 */
public final class FinalSelection {

    private FinalSelection() {}

    /** n − ⌊n(1 − r)⌋ (r from 1 − sparsity read exactly): the official code's kept count for n units at keep ratio r (⌈n·r⌉ up to rounding of n(1 − r)). */
    public static int keepCount(int n, double keepRatio) {
        if (!(keepRatio >= 0 && keepRatio <= 1)) {
            throw new IllegalArgumentException("keep ratio " + keepRatio + " outside [0, 1]");
        }
        return n - (int) Math.floor(n * (1 - keepRatio) + 1e-9); // 1e-9: 1 − (1 − 0.2) is 0.19999999999999996, not 0.2
    }

    /** Marks the {@code k} largest entries of {@code s}, ties to the lower index. */
    public static boolean[] topK(double[] s, int k) {
        if (k < 0 || k > s.length) {
            throw new IllegalArgumentException("cannot keep " + k + " of " + s.length + " units");
        }
        Integer[] order = new Integer[s.length];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, (a, b) -> {
            int c = Double.compare(s[b], s[a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        boolean[] keep = new boolean[s.length];
        for (int i = 0; i < k; i++) {
            keep[order[i]] = true;
        }
        return keep;
    }

    /**
     * Per layer, the units kept by global top-k of each kind with the given counts ({@code layersKept} ignored without
     * layer units).
     */
    public static List<LayerKeep> select(PolicyState state, int headsKept, int channelsKept, int layersKept) {
        UnitLayout layout = state.layout();
        boolean[] h = topK(state.live(UnitKind.HEAD), headsKept);
        boolean[] c = topK(state.live(UnitKind.CHANNEL), channelsKept);
        boolean[] l = layout.layerUnits() ? topK(state.live(UnitKind.LAYER), layersKept) : new boolean[0];
        List<LayerKeep> out = new ArrayList<>(layout.numLayers());
        int ho = 0;
        int co = 0;
        for (int layer = 0; layer < layout.numLayers(); layer++) {
            int nh = layout.units(UnitKind.HEAD, layer);
            int nc = layout.units(UnitKind.CHANNEL, layer);
            out.add(new LayerKeep(layer, !layout.layerUnits() || l[layer], indices(h, ho, nh), indices(c, co, nc)));
            ho += nh;
            co += nc;
        }
        return out;
    }

    /**
     * Per layer, the {@link #keepCount} units of each kind with the highest probability within that layer (every
     * layer keeps the same fraction of its units); layer units, if any, by global top-k.
     */
    public static List<LayerKeep> selectPerLayer(
            PolicyState state, double headKeepRatio, double channelKeepRatio, double layerKeepRatio) {
        UnitLayout layout = state.layout();
        double[] heads = state.live(UnitKind.HEAD);
        double[] channels = state.live(UnitKind.CHANNEL);
        boolean[] l = layout.layerUnits()
                ? topK(state.live(UnitKind.LAYER), keepCount(layout.total(UnitKind.LAYER), layerKeepRatio))
                : new boolean[0];
        List<LayerKeep> out = new ArrayList<>(layout.numLayers());
        int ho = 0;
        int co = 0;
        for (int layer = 0; layer < layout.numLayers(); layer++) {
            int nh = layout.units(UnitKind.HEAD, layer);
            int nc = layout.units(UnitKind.CHANNEL, layer);
            boolean[] h = topK(Arrays.copyOfRange(heads, ho, ho + nh), keepCount(nh, headKeepRatio));
            boolean[] c = topK(Arrays.copyOfRange(channels, co, co + nc), keepCount(nc, channelKeepRatio));
            out.add(new LayerKeep(layer, !layout.layerUnits() || l[layer], indices(h, 0, nh), indices(c, 0, nc)));
            ho += nh;
            co += nc;
        }
        return out;
    }

    private static int[] indices(boolean[] keep, int from, int n) {
        int count = 0;
        for (int i = 0; i < n; i++) {
            count += keep[from + i] ? 1 : 0;
        }
        int[] idx = new int[count];
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (keep[from + i]) {
                idx[j++] = i;
            }
        }
        return idx;
    }
}
