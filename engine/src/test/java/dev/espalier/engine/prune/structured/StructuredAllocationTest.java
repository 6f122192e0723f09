package dev.espalier.engine.prune.structured;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.KeptUnits;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StructuredAllocationTest {
    private static final int HIDDEN = 64;
    private static final int HEAD_DIM = 8;

    @Test
    void headWeightIsFlapsCompressionWeightForLlama7b() {
        LlamaConfig.LayerDims llama7b = new LlamaConfig.LayerDims(32, 32, 11008);
        long head = HeadUnits.unitParams(llama7b, 4096, 128, HeadGranularity.KV_GROUP);
        assertEquals(512.0 / 3, (double) head / (3 * 4096), 1e-12);
        // A GQA group (Llama 3 8B: 4 query heads per key/value head) weighs (2·4 + 2)·headDim·hidden.
        LlamaConfig.LayerDims llama3 = new LlamaConfig.LayerDims(32, 8, 14336);
        assertEquals(10L * 128 * 4096, HeadUnits.unitParams(llama3, 4096, 128, HeadGranularity.KV_GROUP));
    }

    @Test
    void channelsToRemoveIsFlapsCalRemoveNeuronForMhaLlama() {
        // cal_remove_neuron (UL-MM) for LLaMA-7B, ratio 0.2, 6 heads removed per layer:
        // (0.2·(11008·4096·3 + 4096·4096·4) − 4096·4·6·128) / (4096·3) = 2269.86… → 2269
        LlamaConfig.LayerDims dims = new LlamaConfig.LayerDims(32, 32, 11008);
        StructuredAllocation.LayerUnits layer = StructuredAllocation.LayerUnits.of(
                dims, 4096, 128, HeadGranularity.KV_GROUP, new double[32], new double[11008]);
        assertEquals(2269, StructuredAllocation.channelsToRemove(layer, 0.2, 6, 1));
    }

    @Test
    void uniformRemovesTheTargetFractionOfEveryLayerWithinOneChannel() {
        Random random = new Random(5);
        for (HeadGranularity granularity : HeadGranularity.values()) {
            List<StructuredAllocation.LayerUnits> layers = layers(random, granularity);
            for (double sparsity : new double[] {0.1, 0.25, 0.5}) {
                StructuredAllocation.Allocation a = StructuredAllocation.uniform(layers, sparsity, 1);
                long removedTotal = 0;
                for (int l = 0; l < layers.size(); l++) {
                    StructuredAllocation.LayerUnits layer = layers.get(l);
                    long removed = (layer.headScores().length - a.keptHeadUnits()[l].length) * layer.headUnitParams()
                            + (layer.channelScores().length - a.keptChannels()[l].length) * layer.channelParams();
                    double target = sparsity * layer.prunableParams();
                    assertTrue(
                            removed <= target && removed > target - layer.channelParams(),
                            granularity + " s=" + sparsity + " layer " + l + ": removed " + removed + ", target "
                                    + target);
                    assertEquals(
                            (int) Math.floor(sparsity * layer.headScores().length),
                            layer.headScores().length - a.keptHeadUnits()[l].length);
                    assertLowestRemoved(layer.headScores(), a.keptHeadUnits()[l]);
                    assertLowestRemoved(layer.channelScores(), a.keptChannels()[l]);
                    removedTotal += removed;
                }
                assertEquals(removedTotal, a.removedParams());
            }
        }
    }

    @Test
    void globalRemovesTheTargetWithinHalfAUnitAndTheLowestScoresFirst() {
        Random random = new Random(9);
        for (HeadGranularity granularity : HeadGranularity.values()) {
            List<StructuredAllocation.LayerUnits> layers = layers(random, granularity);
            long maxUnit = 0;
            for (StructuredAllocation.LayerUnits layer : layers) {
                maxUnit = Math.max(maxUnit, Math.max(layer.headUnitParams(), layer.channelParams()));
            }
            for (double sparsity : new double[] {0.05, 0.2, 0.37, 0.6}) {
                for (boolean standardise : new boolean[] {false, true}) {
                    StructuredAllocation.Allocation a = StructuredAllocation.global(layers, sparsity, standardise, 1);
                    assertTrue(
                            Math.abs(a.removedParams() - a.targetParams()) <= maxUnit / 2.0,
                            granularity + " s=" + sparsity + ": removed " + a.removedParams() + ", target "
                                    + a.targetParams());
                    long recount = 0;
                    for (int l = 0; l < layers.size(); l++) {
                        StructuredAllocation.LayerUnits layer = layers.get(l);
                        recount += (layer.headScores().length - a.keptHeadUnits()[l].length) * layer.headUnitParams()
                                + (layer.channelScores().length - a.keptChannels()[l].length) * layer.channelParams();
                        assertTrue(a.keptHeadUnits()[l].length >= 1 && a.keptChannels()[l].length >= 1);
                        assertLowestRemoved(layer.headScores(), a.keptHeadUnits()[l]);
                        assertLowestRemoved(layer.channelScores(), a.keptChannels()[l]);
                    }
                    assertEquals(recount, a.removedParams());
                }
            }
        }
    }

    @Test
    void globalRanksAcrossLayers() {
        // Layer 0's channels all score below layer 1's: at a small target only layer 0 loses channels.
        double[] low = new double[16];
        double[] high = new double[16];
        for (int i = 0; i < 16; i++) {
            low[i] = i;
            high[i] = 100 + i;
        }
        double[] heads = {1000, 1001};
        List<StructuredAllocation.LayerUnits> layers = List.of(
                new StructuredAllocation.LayerUnits(heads, 40, low, 3, 0),
                new StructuredAllocation.LayerUnits(heads, 40, high, 3, 0));
        StructuredAllocation.Allocation a = StructuredAllocation.global(layers, 0.1, false, 1);
        // P = 2·(80 + 48) = 256, target 25.6: eight channels (24) of layer 0; a ninth would make 27, 1.4 over vs 1.6
        // under.
        assertEquals(27, a.removedParams());
        assertArrayEquals(new int[] {9, 10, 11, 12, 13, 14, 15}, a.keptChannels()[0]);
        assertEquals(16, a.keptChannels()[1].length);
    }

    @Test
    void querySlicesKeepTheSameNumberOfQueryHeadsInEveryGroup() {
        LlamaConfig.LayerDims dims = new LlamaConfig.LayerDims(8, 2, 16);
        double[] scores = {5, 1, 7, 3, /* group 1 */ 2, 8, 6, 4};
        double[] slices = HeadUnits.unitScores(scores, dims, HeadGranularity.QUERY_IN_GROUP);
        assertArrayEquals(new double[] {7.5, 5.5, 3.5, 1.5}, slices, 1e-12);
        int[] heads = HeadUnits.queryHeads(new int[] {0, 1}, scores, dims, HeadGranularity.QUERY_IN_GROUP);
        assertArrayEquals(new int[] {0, 2, 5, 6}, heads);
        KeptUnits kept = new KeptUnits(heads, new int[] {0, 1});
        assertEquals(new LlamaConfig.LayerDims(4, 2, 2), kept.dims(dims));
        assertArrayEquals(new double[] {4, 5}, HeadUnits.unitScores(scores, dims, HeadGranularity.KV_GROUP), 1e-12);
        assertArrayEquals(
                new int[] {4, 5, 6, 7}, HeadUnits.queryHeads(new int[] {1}, scores, dims, HeadGranularity.KV_GROUP));
    }

    private static List<StructuredAllocation.LayerUnits> layers(Random random, HeadGranularity granularity) {
        List<StructuredAllocation.LayerUnits> layers = new ArrayList<>();
        LlamaConfig.LayerDims[] dims = {
            new LlamaConfig.LayerDims(8, 2, 96),
            new LlamaConfig.LayerDims(8, 4, 128),
            new LlamaConfig.LayerDims(12, 4, 80)
        };
        for (LlamaConfig.LayerDims d : dims) {
            double[] heads = new double[d.numHeads()];
            double[] channels = new double[d.intermediateSize()];
            double scale = 1 + 10 * random.nextDouble(); // layers on different scales
            for (int i = 0; i < heads.length; i++) {
                heads[i] = scale * random.nextDouble();
            }
            for (int i = 0; i < channels.length; i++) {
                channels[i] = scale * random.nextDouble();
            }
            layers.add(StructuredAllocation.LayerUnits.of(d, HIDDEN, HEAD_DIM, granularity, heads, channels));
        }
        return layers;
    }

    private static void assertLowestRemoved(double[] scores, int[] kept) {
        boolean[] isKept = new boolean[scores.length];
        double minKept = Double.POSITIVE_INFINITY;
        for (int i : kept) {
            isKept[i] = true;
            minKept = Math.min(minKept, scores[i]);
        }
        for (int i = 0; i < scores.length; i++) {
            if (!isKept[i]) {
                assertTrue(
                        scores[i] <= minKept,
                        "removed unit " + i + " scores " + scores[i] + " above a kept one " + minKept);
            }
        }
    }
}
