package dev.espalier.engine.prune.structured;

import dev.espalier.engine.model.LlamaConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Turns per-layer unit scores (higher = more important) into kept attention units and FFN channels for a target
 * fraction of <em>prunable</em> parameters removed (the {@code --sparsity} of structured pruning). A layer's
 * prunable parameters are its attention and FFN projections: P = units·p_head + channels·p_channel + fixed, with
 * p_channel = 3·hidden (a row of gate and up, a column of down) and p_head from {@link HeadUnits#unitParams}; the
 * hidden size, norms and embeddings are never pruned and never counted.
 *
 * <ul>
 *   <li>{@link #uniform}: every layer loses the same fraction s. Heads first, as FLAP's UL-UM and Wanda-sp:
 *       ⌊s·units⌋ lowest-scored units; then {@link #channelsToRemove} lowest-scored channels so that the layer's
 *       removed parameters reach s·P (FLAP's {@code cal_remove_neuron}, generalised). Each layer is within one channel
 *       below its target.</li>
 *   <li>{@link #global}: FLAP's adaptive structure (AL-AM): the units of all layers ranked together (optionally
 *       after standardising each layer's head and channel scores separately), removed from the lowest score up.
 *       FLAP keeps a strict prefix of that order (one threshold, where the kept parameters are closest to
 *       (1 − s)·P_total, its {@code compression_weight} 512/3 = p_head/p_channel for LLaMA-7B). Here a unit whose
 *       removal would overshoot the target by more than half of its own size is skipped and the walk goes on, so
 *       the total lands within half a unit (in practice half a channel) of the target instead of within half a head;
 *       the kept set differs from FLAP's only at the boundary.</li>
 * </ul>
 * Both keep at least {@code minKeep} attention units and channels in every layer.
 */
public final class StructuredAllocation {
    private StructuredAllocation() {}

    /**
     * The units of one layer: scores (higher = keep) and the parameters each unit removes.
     *
     * @param headScores     per attention unit (see {@link HeadUnits#unitScores})
     * @param headUnitParams parameters one attention unit removes
     * @param channelScores  per FFN channel (intermediateSize)
     * @param channelParams  parameters one channel removes (3·hidden)
     * @param fixedParams    prunable parameters no unit removes ({@link HeadUnits#fixedParams})
     */
    public record LayerUnits(
            double[] headScores, long headUnitParams, double[] channelScores, long channelParams, long fixedParams) {
        public LayerUnits {
            headScores = headScores.clone();
            channelScores = channelScores.clone();
            if (headUnitParams <= 0 || channelParams <= 0 || fixedParams < 0) {
                throw new IllegalArgumentException("unit parameter counts must be positive: head " + headUnitParams
                        + ", channel " + channelParams + ", fixed " + fixedParams);
            }
        }

        /** A LLaMA layer's units: attention units of {@code granularity}, channels of 3·hidden parameters. */
        public static LayerUnits of(
                LlamaConfig.LayerDims dims,
                int hidden,
                int headDim,
                HeadGranularity granularity,
                double[] queryHeadScores,
                double[] channelScores) {
            if (channelScores.length != dims.intermediateSize()) {
                throw new IllegalArgumentException(
                        "expected " + dims.intermediateSize() + " channel scores, got " + channelScores.length);
            }
            return new LayerUnits(
                    HeadUnits.unitScores(queryHeadScores, dims, granularity),
                    HeadUnits.unitParams(dims, hidden, headDim, granularity),
                    channelScores,
                    3L * hidden,
                    HeadUnits.fixedParams(dims, hidden, headDim, granularity));
        }

        /** P = units·p_head + channels·p_channel + fixed. */
        public long prunableParams() {
            return headScores.length * headUnitParams + channelScores.length * channelParams + fixedParams;
        }
    }

    /**
     * The decision: per layer, the kept attention units and channels (sorted indices).
     *
     * @param keptHeadUnits  per layer, indices into that layer's head scores
     * @param keptChannels   per layer, indices into its channel scores
     * @param removedParams  parameters removed in all
     * @param targetParams   s·P_total
     * @param prunableParams P_total
     */
    public record Allocation(
            int[][] keptHeadUnits, int[][] keptChannels, long removedParams, double targetParams, long prunableParams) {
        /** removed / prunable. */
        public double removedFraction() {
            return prunableParams == 0 ? 0 : (double) removedParams / prunableParams;
        }
    }

    /**
     * Channels to remove in one layer so that its removed parameters reach {@code sparsity}·P given
     * {@code headUnitsRemoved} attention units already removed: ⌊(s·P − removedHeads·p_head) / p_channel⌋, clamped to
     * [0, channels − minKeep]. With MHA LLaMA dims this is FLAP's {@code cal_remove_neuron} per layer.
     */
    public static int channelsToRemove(LayerUnits layer, double sparsity, int headUnitsRemoved, int minKeep) {
        double budget = sparsity * layer.prunableParams() - (double) headUnitsRemoved * layer.headUnitParams();
        int max = Math.max(0, layer.channelScores().length - minKeep);
        return (int) Math.max(0, Math.min(max, Math.floor(budget / layer.channelParams())));
    }

    /** Same fraction in every layer: ⌊s·units⌋ attention units, then {@link #channelsToRemove}; lowest scores go. */
    public static Allocation uniform(List<LayerUnits> layers, double sparsity, int minKeep) {
        requireArguments(sparsity, minKeep);
        int[][] heads = new int[layers.size()][];
        int[][] channels = new int[layers.size()][];
        long removed = 0;
        long total = 0;
        for (int l = 0; l < layers.size(); l++) {
            LayerUnits layer = layers.get(l);
            int units = layer.headScores().length;
            int headsRemoved = (int) Math.min(Math.floor(sparsity * units), Math.max(0, units - minKeep));
            int channelsRemoved = channelsToRemove(layer, sparsity, headsRemoved, minKeep);
            heads[l] = keepHighest(layer.headScores(), units - headsRemoved);
            channels[l] = keepHighest(layer.channelScores(), layer.channelScores().length - channelsRemoved);
            removed += headsRemoved * layer.headUnitParams() + channelsRemoved * layer.channelParams();
            total += layer.prunableParams();
        }
        return new Allocation(heads, channels, removed, sparsity * total, total);
    }

    /**
     * All layers ranked together (see the class comment). With {@code standardise}, each layer's head scores and its
     * channel scores are replaced by their z-scores (x − mean) / std (unbiased std, as {@code torch.std}) first —
     * FLAP's step for metrics of different scales; pass false for scores already standardised (FLAP's own, which
     * standardise per column before averaging heads: {@link FlapScores}).
     */
    public static Allocation global(List<LayerUnits> layers, double sparsity, boolean standardise, int minKeep) {
        requireArguments(sparsity, minKeep);
        record Unit(int layer, boolean head, int index, double score, long params) {}
        List<Unit> units = new ArrayList<>();
        long total = 0;
        int[] headsLeft = new int[layers.size()];
        int[] channelsLeft = new int[layers.size()];
        for (int l = 0; l < layers.size(); l++) {
            LayerUnits layer = layers.get(l);
            double[] hs = standardise ? standardised(layer.headScores()) : layer.headScores();
            double[] cs = standardise ? standardised(layer.channelScores()) : layer.channelScores();
            for (int i = 0; i < hs.length; i++) {
                units.add(new Unit(l, true, i, hs[i], layer.headUnitParams()));
            }
            for (int i = 0; i < cs.length; i++) {
                units.add(new Unit(l, false, i, cs[i], layer.channelParams()));
            }
            headsLeft[l] = hs.length;
            channelsLeft[l] = cs.length;
            total += layer.prunableParams();
        }
        units.sort(Comparator.comparingDouble(Unit::score)
                .thenComparingInt(Unit::layer)
                .thenComparing(u -> !u.head())
                .thenComparingInt(Unit::index));
        double target = sparsity * total;
        long removed = 0;
        List<boolean[]> removedHeads = new ArrayList<>();
        List<boolean[]> removedChannels = new ArrayList<>();
        for (LayerUnits layer : layers) {
            removedHeads.add(new boolean[layer.headScores().length]);
            removedChannels.add(new boolean[layer.channelScores().length]);
        }
        for (Unit u : units) {
            int[] left = u.head() ? headsLeft : channelsLeft;
            if (left[u.layer()] <= minKeep || removed + u.params() > target + u.params() / 2.0) {
                continue;
            }
            left[u.layer()]--;
            removed += u.params();
            (u.head() ? removedHeads : removedChannels).get(u.layer())[u.index()] = true;
        }
        int[][] heads = new int[layers.size()][];
        int[][] channels = new int[layers.size()][];
        for (int l = 0; l < layers.size(); l++) {
            heads[l] = complement(removedHeads.get(l));
            channels[l] = complement(removedChannels.get(l));
        }
        return new Allocation(heads, channels, removed, target, total);
    }

    /** z-scores (x − mean) / std with the unbiased std; zeros when fewer than two values or std is 0. */
    public static double[] standardised(double[] x) {
        int n = x.length;
        double[] out = new double[n];
        if (n < 2) {
            return out;
        }
        double mean = Arrays.stream(x).sum() / n;
        double ss = 0;
        for (double v : x) {
            ss += (v - mean) * (v - mean);
        }
        double std = Math.sqrt(ss / (n - 1));
        for (int i = 0; i < n && std > 0; i++) {
            out[i] = (x[i] - mean) / std;
        }
        return out;
    }

    /** Sorted indices of the {@code keep} highest scores (ties: the lower index is kept). */
    public static int[] keepHighest(double[] scores, int keep) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -scores[i]).thenComparingInt(i -> i));
        int[] kept = new int[Math.max(0, Math.min(keep, scores.length))];
        for (int i = 0; i < kept.length; i++) {
            kept[i] = order[i];
        }
        Arrays.sort(kept);
        return kept;
    }

    private static int[] complement(boolean[] removed) {
        int[] kept = new int[removed.length];
        int n = 0;
        for (int i = 0; i < removed.length; i++) {
            if (!removed[i]) {
                kept[n++] = i;
            }
        }
        return Arrays.copyOf(kept, n);
    }

    private static void requireArguments(double sparsity, int minKeep) {
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new IllegalArgumentException("sparsity must be in [0, 1), got " + sparsity);
        }
        if (minKeep < 0) {
            throw new IllegalArgumentException("minKeep must be non-negative, got " + minKeep);
        }
    }
}
