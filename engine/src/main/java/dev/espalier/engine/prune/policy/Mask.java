package dev.espalier.engine.prune.policy;

import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * One rollout's binary mask: for every unit, whether it is kept. Drawn by {@link #sample} as independent
 * Bernoulli(s) variables from a generator seeded by (seed, step, index) alone, so a rollout's mask does not depend
 * on which worker draws it, in what order, or how many rollouts are in flight.
 */
public final class Mask {
    private final UnitLayout layout;
    private final long step;
    private final int index;
    private final boolean[] heads; // (Σ kv groups), layer-major
    private final boolean[] channels; // (Σ channels), layer-major
    private final boolean[] layers; // (num layers) when layer units, else empty

    Mask(UnitLayout layout, long step, int index, boolean[] heads, boolean[] channels, boolean[] layers) {
        this.layout = layout;
        this.step = step;
        this.index = index;
        this.heads = heads;
        this.channels = channels;
        this.layers = layers;
    }

    /**
     * Draws the mask of rollout {@code index} of step {@code step}: unit u is kept iff {@code U < s_u}, U uniform on
     * [0, 1) from a {@link SplittableRandom} seeded with {@link #rolloutKey}(seed, step, index), the units visited in
     * the order heads, channels, layers, each layer-major (the order is part of the format: changing it changes
     * every mask). A unit with s = 0 is never kept and one with s = 1 always.
     */
    public static Mask sample(PolicyState state, long step, int index) {
        SplittableRandom rng = new SplittableRandom(rolloutKey(state.seed(), step, index));
        UnitLayout layout = state.layout();
        return new Mask(
                layout,
                step,
                index,
                draw(state.live(UnitKind.HEAD), rng),
                draw(state.live(UnitKind.CHANNEL), rng),
                draw(state.live(UnitKind.LAYER), rng));
    }

    private static boolean[] draw(double[] s, SplittableRandom rng) {
        boolean[] m = new boolean[s.length];
        for (int i = 0; i < s.length; i++) {
            m[i] = rng.nextDouble() < s[i];
        }
        return m;
    }

    /**
     * The 64-bit seed of one rollout: three rounds of the SplitMix64 finaliser, absorbing seed, step and index in turn,
     * so nearby (step, index) pairs give unrelated streams.
     */
    public static long rolloutKey(long seed, long step, int index) {
        long k = mix64(seed ^ 0x9E3779B97F4A7C15L);
        k = mix64(k + step * 0xBF58476D1CE4E5B9L + 0x632BE59BD9B4E019L);
        return mix64(k + index * 0x94D049BB133111EBL + 0x2545F4914F6CDD1DL);
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Builds a mask from explicit bits (tests, and a runtime that replays a logged mask); the arrays are copied. */
    public static Mask of(
            UnitLayout layout, long step, int index, boolean[] heads, boolean[] channels, boolean[] layers) {
        requireLength(heads, layout.total(UnitKind.HEAD), "head");
        requireLength(channels, layout.total(UnitKind.CHANNEL), "channel");
        requireLength(layers, layout.total(UnitKind.LAYER), "layer");
        return new Mask(layout, step, index, heads.clone(), channels.clone(), layers.clone());
    }

    private static void requireLength(boolean[] bits, int expected, String what) {
        if (bits.length != expected) {
            throw new IllegalArgumentException(what + " bits: expected " + expected + ", got " + bits.length);
        }
    }

    public UnitLayout layout() {
        return layout;
    }

    public long step() {
        return step;
    }

    public int index() {
        return index;
    }

    /** Whether key/value group {@code group} of layer {@code layer} (with its query heads) is kept. */
    public boolean head(int layer, int group) {
        return heads[layout.offset(UnitKind.HEAD, layer) + checkIndex(group, layout.units(UnitKind.HEAD, layer))];
    }

    /** Whether FFN channel {@code channel} of layer {@code layer} is kept. */
    public boolean channel(int layer, int channel) {
        return channels[
                layout.offset(UnitKind.CHANNEL, layer) + checkIndex(channel, layout.units(UnitKind.CHANNEL, layer))];
    }

    /** Whether decoder layer {@code layer} is kept; always true without layer units. */
    public boolean layer(int layer) {
        return !layout.layerUnits() || layers[checkIndex(layer, layout.numLayers())];
    }

    /** Layer {@code layer}'s bits of {@code kind} (a copy); for {@link UnitKind#LAYER} a one-element array. */
    public boolean[] bits(UnitKind kind, int layer) {
        int from = layout.offset(kind, layer);
        return Arrays.copyOfRange(live(kind), from, from + layout.units(kind, layer));
    }

    /** Every bit of {@code kind}, layer-major (a copy). */
    public boolean[] bits(UnitKind kind) {
        return live(kind).clone();
    }

    /** Number of kept units of {@code kind} over all layers. */
    public int kept(UnitKind kind) {
        int n = 0;
        for (boolean b : live(kind)) {
            n += b ? 1 : 0;
        }
        return n;
    }

    boolean[] live(UnitKind kind) {
        return switch (kind) {
            case HEAD -> heads;
            case CHANNEL -> channels;
            case LAYER -> layers;
        };
    }

    private static int checkIndex(int i, int n) {
        return Objects.checkIndex(i, n);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Mask m
                && step == m.step
                && index == m.index
                && layout.equals(m.layout)
                && Arrays.equals(heads, m.heads)
                && Arrays.equals(channels, m.channels)
                && Arrays.equals(layers, m.layers);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * Long.hashCode(step) + index) + Arrays.hashCode(heads)) + Arrays.hashCode(channels);
    }

    @Override
    public String toString() {
        return "Mask[step=" + step + ", index=" + index + ", heads=" + kept(UnitKind.HEAD) + "/" + heads.length
                + ", channels=" + kept(UnitKind.CHANNEL) + "/" + channels.length + ", layers=" + kept(UnitKind.LAYER)
                + "/" + layers.length + "]";
    }
}
