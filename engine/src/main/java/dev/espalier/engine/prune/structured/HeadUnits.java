package dev.espalier.engine.prune.structured;

import dev.espalier.engine.model.LlamaConfig;
import java.util.Arrays;
import java.util.Comparator;

/**
 * Maps per-query-head scores of one layer to the layer's attention units ({@link HeadGranularity}) and kept units
 * back to query heads. Query head h belongs to key/value group h / perGroup (the Hugging Face {@code repeat_kv}
 * layout), perGroup = numHeads / numKvHeads.
 */
public final class HeadUnits {
    private HeadUnits() {}

    /** Number of attention units: numKvHeads groups, or perGroup slices. */
    public static int count(LlamaConfig.LayerDims dims, HeadGranularity granularity) {
        return granularity == HeadGranularity.KV_GROUP ? dims.numKvHeads() : perGroup(dims, granularity);
    }

    /** Parameters one unit removes: (2·perGroup + 2)·headDim·hidden for a group, 2·numKv·headDim·hidden for a slice. */
    public static long unitParams(LlamaConfig.LayerDims dims, int hidden, int headDim, HeadGranularity granularity) {
        long block = (long) headDim * hidden;
        return granularity == HeadGranularity.KV_GROUP
                ? (2L * perGroup(dims, granularity) + 2) * block
                : 2L * dims.numKvHeads() * block;
    }

    /** Attention parameters no unit removes: the k/v projections for slices (2·numKv·headDim·hidden), else 0. */
    public static long fixedParams(LlamaConfig.LayerDims dims, int hidden, int headDim, HeadGranularity granularity) {
        return granularity == HeadGranularity.KV_GROUP ? 0 : 2L * dims.numKvHeads() * headDim * hidden;
    }

    /**
     * Unit scores from query-head scores (numHeads): a group's score is the mean of its query heads' scores; slice r's
     * score is the mean over groups of each group's r-th highest score (so slice scores do not increase with r).
     */
    public static double[] unitScores(
            double[] queryHeadScores, LlamaConfig.LayerDims dims, HeadGranularity granularity) {
        requireLength(queryHeadScores, dims);
        int per = perGroup(dims, granularity);
        int groups = dims.numKvHeads();
        if (granularity == HeadGranularity.KV_GROUP) {
            double[] out = new double[groups];
            for (int h = 0; h < dims.numHeads(); h++) {
                out[h / per] += queryHeadScores[h] / per;
            }
            return out;
        }
        double[] out = new double[per];
        for (int g = 0; g < groups; g++) {
            int[] ranked = rankedInGroup(queryHeadScores, g, per);
            for (int r = 0; r < per; r++) {
                out[r] += queryHeadScores[ranked[r]] / groups;
            }
        }
        return out;
    }

    /** The query heads (sorted) that survive when {@code keptUnits} (indices into {@link #unitScores}) survive. */
    public static int[] queryHeads(
            int[] keptUnits, double[] queryHeadScores, LlamaConfig.LayerDims dims, HeadGranularity granularity) {
        requireLength(queryHeadScores, dims);
        int per = perGroup(dims, granularity);
        int units = count(dims, granularity);
        boolean[] keep = new boolean[dims.numHeads()];
        for (int u : keptUnits) {
            if (u < 0 || u >= units) {
                throw new IllegalArgumentException("attention unit " + u + " out of range 0.." + (units - 1));
            }
            if (granularity == HeadGranularity.KV_GROUP) {
                Arrays.fill(keep, u * per, (u + 1) * per, true);
            } else {
                for (int g = 0; g < dims.numKvHeads(); g++) {
                    keep[rankedInGroup(queryHeadScores, g, per)[u]] = true;
                }
            }
        }
        int[] heads = new int[dims.numHeads()];
        int n = 0;
        for (int h = 0; h < keep.length; h++) {
            if (keep[h]) {
                heads[n++] = h;
            }
        }
        return Arrays.copyOf(heads, n);
    }

    private static int[] rankedInGroup(double[] scores, int group, int per) {
        Integer[] heads = new Integer[per];
        for (int i = 0; i < per; i++) {
            heads[i] = group * per + i;
        }
        Arrays.sort(heads, Comparator.comparingDouble((Integer h) -> -scores[h]).thenComparingInt(h -> h));
        return Arrays.stream(heads).mapToInt(Integer::intValue).toArray();
    }

    private static int perGroup(LlamaConfig.LayerDims dims, HeadGranularity granularity) {
        if (dims.numKvHeads() == 0) {
            throw new IllegalArgumentException("a layer without attention heads has no attention units");
        }
        int per = dims.numHeads() / dims.numKvHeads();
        if (granularity == HeadGranularity.QUERY_IN_GROUP && per < 2) {
            throw new IllegalArgumentException("QUERY_IN_GROUP needs at least two query heads per key/value head, got "
                    + per + " (" + dims.numHeads() + " heads, " + dims.numKvHeads() + " key/value heads)");
        }
        return per;
    }

    private static void requireLength(double[] queryHeadScores, LlamaConfig.LayerDims dims) {
        if (queryHeadScores.length != dims.numHeads()) {
            throw new IllegalArgumentException(
                    "expected " + dims.numHeads() + " query-head scores, got " + queryHeadScores.length);
        }
    }
}
