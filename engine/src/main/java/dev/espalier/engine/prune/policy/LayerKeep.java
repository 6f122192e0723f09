package dev.espalier.engine.prune.policy;

import dev.espalier.engine.prune.KeptUnits;
import java.util.Arrays;

/**
 * What the final top-k keeps of one decoder layer.
 *
 * @param layer     the decoder layer
 * @param layerKept false when the layer unit was dropped (the whole layer is skipped); true without layer units
 * @param kvGroups  kept key/value groups, sorted
 * @param channels  kept FFN channels, sorted
 */
public record LayerKeep(int layer, boolean layerKept, int[] kvGroups, int[] channels) {

    public LayerKeep {
        kvGroups = kvGroups.clone();
        channels = channels.clone();
    }

    @Override
    public int[] kvGroups() {
        return kvGroups.clone();
    }

    @Override
    public int[] channels() {
        return channels.clone();
    }

    /**
     * The kept query heads and channels for structural export: key/value group g keeps query heads
     * g·G .. g·G + G − 1, G = {@code queryHeadsPerGroup}. A dropped layer keeps nothing.
     */
    public KeptUnits toKeptUnits(int queryHeadsPerGroup) {
        if (!layerKept) {
            return new KeptUnits(new int[0], new int[0]);
        }
        int[] q = new int[kvGroups.length * queryHeadsPerGroup];
        for (int i = 0; i < kvGroups.length; i++) {
            for (int h = 0; h < queryHeadsPerGroup; h++) {
                q[i * queryHeadsPerGroup + h] = kvGroups[i] * queryHeadsPerGroup + h;
            }
        }
        return new KeptUnits(q, channels);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LayerKeep k
                && layer == k.layer
                && layerKept == k.layerKept
                && Arrays.equals(kvGroups, k.kvGroups)
                && Arrays.equals(channels, k.channels);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * layer + Boolean.hashCode(layerKept)) + Arrays.hashCode(kvGroups))
                + Arrays.hashCode(channels);
    }

    @Override
    public String toString() {
        return "LayerKeep[layer=" + layer + ", layerKept=" + layerKept + ", kvGroups=" + Arrays.toString(kvGroups)
                + ", channels=" + channels.length + "]";
    }
}
