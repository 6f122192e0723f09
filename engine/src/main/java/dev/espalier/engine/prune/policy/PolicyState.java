package dev.espalier.engine.prune.policy;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.espalier.protocol.v1.PolicySnapshot;
import java.util.Arrays;
import java.util.Objects;

/**
 * Everything the policy-gradient learner changes as it runs: one keep-probability s ∈ [0, 1] per unit (stored
 * directly, not as logits, as the official code does), the step counter, the moving-average baseline and the
 * random-number seed. Masks are a pure function of (seed, step, rollout index) ({@link Mask#sample}), so the seed is
 * the whole random-number state.
 *
 * <p>Serialised as a {@link PolicySnapshot} protobuf ({@code policy_state.proto}) rather than a hand-rolled
 * {@code DataOutputStream} format: the project saves everything that outlives a process through the protocol module,
 * the run directory's manifest already records every artefact's SHA-256 (so a separate checksum would duplicate it),
 * field numbers give forward-compatible evolution, and protobuf-java writes a message without maps in field order
 * with doubles as raw IEEE-754 bits, so equal states give equal bytes and a restored state is bit-identical.
 */
public final class PolicyState {
    /** The {@link PolicySnapshot#getFormatVersion()} this class writes and reads. */
    public static final int FORMAT_VERSION = 1;

    private final UnitLayout layout;
    private final long seed;
    private final double[] heads; // (Σ kv groups), layer-major
    private final double[] channels; // (Σ channels), layer-major
    private final double[] layers; // (num layers) when layer units, else empty
    private long step;
    private boolean baselineInitialised;
    private double baseline;

    private PolicyState(UnitLayout layout, long seed, double[] heads, double[] channels, double[] layers) {
        this.layout = layout;
        this.seed = seed;
        this.heads = heads;
        this.channels = channels;
        this.layers = layers;
    }

    /** Every unit of a kind starts at the same probability (the official {@code random}/constant initialisations). */
    public static PolicyState uniform(
            UnitLayout layout, long seed, double headKeep, double channelKeep, double layerKeep) {
        double[] h = new double[layout.total(UnitKind.HEAD)];
        double[] c = new double[layout.total(UnitKind.CHANNEL)];
        double[] l = new double[layout.total(UnitKind.LAYER)];
        Arrays.fill(h, requireProbability(headKeep));
        Arrays.fill(c, requireProbability(channelKeep));
        Arrays.fill(l, requireProbability(layerKeep));
        return new PolicyState(layout, seed, h, c, l);
    }

    /**
     * Probabilities given explicitly, layer-major per kind (copied); each must lie in [0, 1].
     */
    public static PolicyState of(UnitLayout layout, long seed, double[] heads, double[] channels, double[] layers) {
        requireLength(heads, layout.total(UnitKind.HEAD), "head");
        requireLength(channels, layout.total(UnitKind.CHANNEL), "channel");
        requireLength(layers, layout.total(UnitKind.LAYER), "layer");
        PolicyState s = new PolicyState(layout, seed, heads.clone(), channels.clone(), layers.clone());
        for (UnitKind k : UnitKind.values()) {
            for (double p : s.live(k)) {
                requireProbability(p);
            }
        }
        return s;
    }

    public UnitLayout layout() {
        return layout;
    }

    public long seed() {
        return seed;
    }

    /** Optimiser steps done; the next {@link PolicyGradientPruner#update} is for this step. */
    public long step() {
        return step;
    }

    /** The moving-average baseline b; meaningless until {@link #baselineInitialised()}. */
    public double baseline() {
        return baseline;
    }

    public boolean baselineInitialised() {
        return baselineInitialised;
    }

    /** Every probability of {@code kind}, layer-major (a copy). */
    public double[] probabilities(UnitKind kind) {
        return live(kind).clone();
    }

    /** Layer {@code layer}'s probabilities of {@code kind} (a copy). */
    public double[] probabilities(UnitKind kind, int layer) {
        int from = layout.offset(kind, layer);
        return Arrays.copyOfRange(live(kind), from, from + layout.units(kind, layer));
    }

    /** The probability of one unit. */
    public double probability(UnitKind kind, int layer, int unit) {
        return live(kind)[layout.offset(kind, layer) + Objects.checkIndex(unit, layout.units(kind, layer))];
    }

    /** Replaces layer {@code layer}'s probabilities of {@code kind} (the initialisation hook); values must lie in [0, 1]. */
    public void setProbabilities(UnitKind kind, int layer, double[] p) {
        requireLength(p, layout.units(kind, layer), kind + " layer " + layer);
        for (double v : p) {
            requireProbability(v);
        }
        System.arraycopy(p, 0, live(kind), layout.offset(kind, layer), p.length);
    }

    double[] live(UnitKind kind) {
        return switch (kind) {
            case HEAD -> heads;
            case CHANNEL -> channels;
            case LAYER -> layers;
        };
    }

    void advance(long nextStep) {
        step = nextStep;
    }

    void setBaseline(double b) {
        baseline = b;
        baselineInitialised = true;
    }

    /** A deep copy. */
    public PolicyState copy() {
        PolicyState c = new PolicyState(layout, seed, heads.clone(), channels.clone(), layers.clone());
        c.step = step;
        c.baselineInitialised = baselineInitialised;
        c.baseline = baseline;
        return c;
    }

    /** The protobuf form of this state. */
    public PolicySnapshot toSnapshot() {
        PolicySnapshot.Builder b = PolicySnapshot.newBuilder()
                .setFormatVersion(FORMAT_VERSION)
                .setSeed(seed)
                .setStep(step)
                .setBaselineInitialised(baselineInitialised)
                .setBaseline(baseline)
                .setLayerUnits(layout.layerUnits());
        for (int v : layout.kvGroupsPerLayer()) {
            b.addKvGroupsPerLayer(v);
        }
        for (int v : layout.channelsPerLayer()) {
            b.addChannelsPerLayer(v);
        }
        for (double v : heads) {
            b.addHeadKeepProbabilities(v);
        }
        for (double v : channels) {
            b.addChannelKeepProbabilities(v);
        }
        for (double v : layers) {
            b.addLayerKeepProbabilities(v);
        }
        return b.build();
    }

    /** The serialised {@link #toSnapshot()}; equal states give equal bytes. */
    public byte[] toBytes() {
        return toSnapshot().toByteArray();
    }

    /** Reads a state written by {@link #toSnapshot()}; rejects other format versions and inconsistent layouts. */
    public static PolicyState fromSnapshot(PolicySnapshot p) {
        if (p.getFormatVersion() != FORMAT_VERSION) {
            throw new IllegalArgumentException(
                    "policy snapshot format " + p.getFormatVersion() + ", expected " + FORMAT_VERSION);
        }
        UnitLayout layout = new UnitLayout(
                p.getKvGroupsPerLayerList().stream().mapToInt(Integer::intValue).toArray(),
                p.getChannelsPerLayerList().stream().mapToInt(Integer::intValue).toArray(),
                p.getLayerUnits());
        PolicyState s = of(
                layout,
                p.getSeed(),
                p.getHeadKeepProbabilitiesList().stream()
                        .mapToDouble(Double::doubleValue)
                        .toArray(),
                p.getChannelKeepProbabilitiesList().stream()
                        .mapToDouble(Double::doubleValue)
                        .toArray(),
                p.getLayerKeepProbabilitiesList().stream()
                        .mapToDouble(Double::doubleValue)
                        .toArray());
        if (p.getStep() < 0) {
            throw new IllegalArgumentException("policy snapshot step " + p.getStep() + " is negative");
        }
        s.step = p.getStep();
        s.baselineInitialised = p.getBaselineInitialised();
        s.baseline = p.getBaseline();
        return s;
    }

    /** Reads bytes written by {@link #toBytes()}. */
    public static PolicyState fromBytes(byte[] bytes) {
        try {
            return fromSnapshot(PolicySnapshot.parseFrom(bytes));
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not a policy snapshot: " + e.getMessage(), e);
        }
    }

    private static double requireProbability(double p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("keep-probability " + p + " outside [0, 1]");
        }
        return p;
    }

    private static void requireLength(double[] a, int expected, String what) {
        if (a.length != expected) {
            throw new IllegalArgumentException(what + " probabilities: expected " + expected + ", got " + a.length);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PolicyState s
                && layout.equals(s.layout)
                && seed == s.seed
                && step == s.step
                && baselineInitialised == s.baselineInitialised
                && Double.doubleToLongBits(baseline) == Double.doubleToLongBits(s.baseline)
                && Arrays.equals(heads, s.heads)
                && Arrays.equals(channels, s.channels)
                && Arrays.equals(layers, s.layers);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new long[] {
            seed, step, Double.doubleToLongBits(baseline), Arrays.hashCode(heads), Arrays.hashCode(channels)
        });
    }

    @Override
    public String toString() {
        return "PolicyState[step=" + step + ", baseline=" + baseline + ", heads=" + heads.length + ", channels="
                + channels.length + ", layers=" + layers.length + "]";
    }
}
