package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.kernels.TensorOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/** Random kept units and logit comparisons shared by the structured-pruning tests. */
final class StructuredFixtures {
    private StructuredFixtures() {}

    /**
     * One random {@link KeptUnits} per layer of {@code c}: a random number of key/value groups each keeping the same
     * random number of query heads, and a random subset of channels; layer {@code noHeads} keeps no head and layer
     * {@code noChannels} no channel (-1: none forced).
     */
    static List<KeptUnits> randomKept(LlamaConfig c, long seed, int noHeads, int noChannels) {
        SplittableRandom random = new SplittableRandom(seed);
        List<KeptUnits> kept = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            LlamaConfig.LayerDims d = c.layer(l);
            int perGroup = d.numHeads() / d.numKvHeads();
            int groups = l == noHeads ? 0 : 1 + random.nextInt(d.numKvHeads());
            int headsPerGroup = 1 + random.nextInt(perGroup);
            List<Integer> heads = new ArrayList<>();
            for (int g : pick(random, d.numKvHeads(), groups)) {
                for (int h : pick(random, perGroup, headsPerGroup)) {
                    heads.add(g * perGroup + h);
                }
            }
            int channels = l == noChannels ? 0 : 1 + random.nextInt(d.intermediateSize());
            kept.add(new KeptUnits(
                    heads.stream().mapToInt(Integer::intValue).sorted().toArray(),
                    pick(random, d.intermediateSize(), channels)));
        }
        return kept;
    }

    /** {@code k} distinct sorted values of 0 .. n − 1. */
    static int[] pick(SplittableRandom random, int n, int k) {
        int[] all = IntStream.range(0, n).toArray();
        for (int i = 0; i < k; i++) {
            int j = i + random.nextInt(n - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        int[] out = Arrays.copyOf(all, k);
        Arrays.sort(out);
        return out;
    }

    static int[] tokens(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] t = new int[n];
        t[0] = 1;
        for (int i = 1; i < n; i++) {
            t[i] = random.nextInt(512);
        }
        return t;
    }

    static float[] logits(LlamaModel model, TensorOps ops, int[] tokens, LayerMask[] masks) {
        try (LlamaForward forward = new LlamaForward(model, ops, tokens.length, tokens.length)) {
            return forward.forward(tokens, forward.newCache(tokens.length), masks, LayerTap.NONE, false)
                    .toFloatArray();
        }
    }

    /** max |a − b| / max |a|. */
    static double relativeDifference(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError(a.length + " vs " + b.length + " logits");
        }
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(a[i]));
        }
        return diff / scale;
    }
}
