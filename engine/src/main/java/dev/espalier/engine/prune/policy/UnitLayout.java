package dev.espalier.engine.prune.policy;

import dev.espalier.engine.model.LlamaConfig;
import java.util.Arrays;

/**
 * How many units of each kind every decoder layer has, and where they sit in the flat, layer-major arrays that
 * {@link PolicyState} and {@link Mask} use: layer l's head units occupy {@code headOffset(l) .. headOffset(l + 1) − 1}.
 *
 * @param kvGroupsPerLayer key/value heads per layer (each one a {@link UnitKind#HEAD} unit)
 * @param channelsPerLayer FFN intermediate channels per layer
 * @param layerUnits       whether every decoder layer is also a {@link UnitKind#LAYER} unit
 */
public record UnitLayout(int[] kvGroupsPerLayer, int[] channelsPerLayer, boolean layerUnits) {

    public UnitLayout {
        kvGroupsPerLayer = kvGroupsPerLayer.clone();
        channelsPerLayer = channelsPerLayer.clone();
        if (kvGroupsPerLayer.length != channelsPerLayer.length) {
            throw new IllegalArgumentException("kv groups given for " + kvGroupsPerLayer.length
                    + " layers, channels for " + channelsPerLayer.length);
        }
        for (int l = 0; l < kvGroupsPerLayer.length; l++) {
            if (kvGroupsPerLayer[l] < 0 || channelsPerLayer[l] < 0) {
                throw new IllegalArgumentException("layer " + l + " has a negative unit count");
            }
        }
    }

    /** One head unit per key/value head and one channel unit per FFN channel of every layer of {@code config}. */
    public static UnitLayout of(LlamaConfig config, boolean layerUnits) {
        int n = config.numLayers();
        int[] kv = new int[n];
        int[] ch = new int[n];
        for (int l = 0; l < n; l++) {
            kv[l] = config.layer(l).numKvHeads();
            ch[l] = config.layer(l).intermediateSize();
        }
        return new UnitLayout(kv, ch, layerUnits);
    }

    public int numLayers() {
        return kvGroupsPerLayer.length;
    }

    /** Units of {@code kind} in layer {@code layer} (1 or 0 for {@link UnitKind#LAYER}). */
    public int units(UnitKind kind, int layer) {
        return switch (kind) {
            case HEAD -> kvGroupsPerLayer[layer];
            case CHANNEL -> channelsPerLayer[layer];
            case LAYER -> layerUnits ? 1 : 0;
        };
    }

    /** Units of {@code kind} over all layers. */
    public int total(UnitKind kind) {
        return offset(kind, numLayers());
    }

    /** Index of layer {@code layer}'s first unit of {@code kind} in the flat array; {@code offset(kind, numLayers())} is the total. */
    public int offset(UnitKind kind, int layer) {
        if (layer < 0 || layer > numLayers()) {
            throw new IndexOutOfBoundsException("layer " + layer + " of " + numLayers());
        }
        int o = 0;
        for (int l = 0; l < layer; l++) {
            o += units(kind, l);
        }
        return o;
    }

    @Override
    public int[] kvGroupsPerLayer() {
        return kvGroupsPerLayer.clone();
    }

    @Override
    public int[] channelsPerLayer() {
        return channelsPerLayer.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UnitLayout u
                && Arrays.equals(kvGroupsPerLayer, u.kvGroupsPerLayer)
                && Arrays.equals(channelsPerLayer, u.channelsPerLayer)
                && layerUnits == u.layerUnits;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(kvGroupsPerLayer) + Arrays.hashCode(channelsPerLayer))
                + Boolean.hashCode(layerUnits);
    }

    @Override
    public String toString() {
        return "UnitLayout[kvGroups=" + Arrays.toString(kvGroupsPerLayer) + ", channels="
                + Arrays.toString(channelsPerLayer) + ", layerUnits=" + layerUnits + "]";
    }
}
