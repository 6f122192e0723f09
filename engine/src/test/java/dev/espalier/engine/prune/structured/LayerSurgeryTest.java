package dev.espalier.engine.prune.structured;

import static dev.espalier.engine.prune.structured.StructuredFixtures.logits;
import static dev.espalier.engine.prune.structured.StructuredFixtures.randomKept;
import static dev.espalier.engine.prune.structured.StructuredFixtures.relativeDifference;
import static dev.espalier.engine.prune.structured.StructuredFixtures.tokens;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.cpu.CpuOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LayerSurgeryTest {
    private static final double TOLERANCE = 1e-5;

    @Test
    void compactModelGivesTheLogitsOfItsMaskedDenseTwinAndOfTheMaskedForward() {
        int[] tokens = tokens(48, 5);
        try (LlamaModel dense = ModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared());
                Arena arena = Arena.ofShared();
                CpuOps ops = new CpuOps(1)) {
            float[] unpruned = logits(dense, ops, tokens, null);
            for (long seed = 0; seed < 4; seed++) {
                List<KeptUnits> kept = randomKept(dense.config(), seed, (int) seed % 5, (int) (seed + 2) % 5);
                LlamaModel compact = StructuredModels.compact(dense, kept, arena);
                LlamaModel masked = StructuredModels.maskDense(dense, kept, arena);
                for (int l = 0; l < 5; l++) {
                    assertEquals(
                            kept.get(l).dims(dense.config().layer(l)),
                            compact.config().layer(l));
                    assertEquals(
                            kept.get(l).queryHeads().length * 8,
                            compact.layer(l).q().rows());
                    assertEquals(
                            kept.get(l).channels().length,
                            compact.layer(l).down().cols());
                }
                assertEquals(dense.config().layers(), masked.config().layers());
                float[] fromCompact = logits(compact, ops, tokens, null);
                float[] fromMasked = logits(masked, ops, tokens, null);
                float[] fromMaskedForward = logits(dense, ops, tokens, StructuredModels.masks(dense.config(), kept));
                assertTrue(
                        relativeDifference(fromMasked, fromCompact) <= TOLERANCE,
                        "seed " + seed + ": compact vs masked-dense " + relativeDifference(fromMasked, fromCompact));
                assertTrue(
                        relativeDifference(fromMaskedForward, fromCompact) <= TOLERANCE,
                        "seed " + seed + ": compact vs LayerMask "
                                + relativeDifference(fromMaskedForward, fromCompact));
                assertTrue(relativeDifference(unpruned, fromCompact) > 1e-2, "pruning changed nothing at seed " + seed);
            }
        }
    }

    @Test
    void compensationBiasesAgreeAcrossFormsIncludingLayersWithoutHeadsOrChannels() {
        int[] tokens = tokens(40, 6);
        try (LlamaModel loaded = ModelLoader.load(SharedFiles.storiesHf(), Arena.ofShared());
                Arena arena = Arena.ofShared();
                CpuOps ops = new CpuOps(1)) {
            LlamaConfig c = loaded.config();
            List<KeptUnits> kept = randomKept(c, 11, 1, 3);
            LlamaModel dense = withRandomCompensation(loaded, kept, arena);
            assertTrue(dense.config().attentionOutputBias() && dense.config().mlpBias());
            float[] fromCompact = logits(StructuredModels.compact(dense, kept, arena), ops, tokens, null);
            float[] fromMasked = logits(StructuredModels.maskDense(dense, kept, arena), ops, tokens, null);
            float[] fromMaskedForward = logits(dense, ops, tokens, StructuredModels.masks(c, kept));
            assertTrue(
                    relativeDifference(fromMasked, fromCompact) <= TOLERANCE,
                    "compact vs masked-dense " + relativeDifference(fromMasked, fromCompact));
            assertTrue(
                    relativeDifference(fromMaskedForward, fromCompact) <= TOLERANCE,
                    "compact vs LayerMask " + relativeDifference(fromMaskedForward, fromCompact));
            float[] withoutBias = logits(StructuredModels.compact(loaded, kept, arena), ops, tokens, null);
            assertTrue(relativeDifference(fromCompact, withoutBias) > 1e-3, "the compensation biases changed nothing");
        }
    }

    @Test
    void compactSlicesBiasesAndKeepsOutputBiasesWhole() {
        LlamaConfig.LayerDims dims = new LlamaConfig.LayerDims(4, 2, 3);
        int headDim = 2;
        int hidden = 3;
        try (Arena arena = Arena.ofConfined()) {
            DecoderLayerWeights w = new DecoderLayerWeights(
                    seq(arena, hidden),
                    seq(arena, 8, hidden),
                    seq(arena, 4, hidden),
                    seq(arena, 4, hidden),
                    seq(arena, hidden, 8),
                    seq(arena, 8),
                    seq(arena, 4),
                    seq(arena, 4),
                    seq(arena, hidden),
                    seq(arena, hidden),
                    seq(arena, 3, hidden),
                    seq(arena, 3, hidden),
                    seq(arena, hidden, 3),
                    seq(arena, 3),
                    seq(arena, 3),
                    null);
            KeptUnits kept = new KeptUnits(new int[] {2, 3}, new int[] {0, 2}); // group 1 only
            DecoderLayerWeights c = LayerSurgery.compact(w, dims, headDim, kept, arena);
            assertArrayEquals(new float[] {4, 5, 6, 7}, c.qBias().toFloatArray());
            assertArrayEquals(new float[] {2, 3}, c.kBias().toFloatArray());
            assertArrayEquals(new float[] {0, 1, 2}, c.oBias().toFloatArray());
            assertArrayEquals(new float[] {0, 2}, c.gateBias().toFloatArray());
            assertNull(c.downBias());
            assertArrayEquals(new float[] {12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}, c.q().toFloatArray());
            assertArrayEquals(new float[] {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23}, c.o().toFloatArray());
            assertArrayEquals(new float[] {0, 2, 3, 5, 6, 8}, c.down().toFloatArray());
            DecoderLayerWeights m = LayerSurgery.maskDense(w, dims, headDim, kept, arena);
            assertArrayEquals(new float[] {0, 0, 0, 0, 4, 5, 6, 7}, m.qBias().toFloatArray());
            assertArrayEquals(new float[] {0, 0, 2, 3}, m.vBias().toFloatArray());
            assertArrayEquals(new float[] {0, 0, 2, 3, 0, 5, 6, 0, 8}, m.down().toFloatArray());
            assertArrayEquals(
                    new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8}, w.down().toFloatArray(), "the dense layer is untouched");
        }
    }

    @Test
    void compensationIsTheRemovedColumnsTimesTheirMeans() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = seq(arena, 2, 4); // rows {0,1,2,3}, {4,5,6,7}
            float[] comp = LayerSurgery.compensation(w, new int[] {1, 3}, new double[] {9, 2, 9, -1});
            assertArrayEquals(new float[] {1 * 2 + 3 * -1, 5 * 2 + 7 * -1}, comp);
            DecoderLayerWeights layer = new DecoderLayerWeights(
                    null, null, null, null, w, null, null, null, null, null, null, null, w, null, null, seq(arena, 2));
            DecoderLayerWeights added = LayerSurgery.addOutputBiases(layer, comp, comp, arena);
            assertArrayEquals(comp, added.oBias().toFloatArray());
            assertArrayEquals(
                    new float[] {comp[0], comp[1] + 1}, added.downBias().toFloatArray());
            LlamaConfig.LayerDims dims = new LlamaConfig.LayerDims(2, 1, 4);
            KeptUnits kept = new KeptUnits(new int[] {1}, new int[] {0, 2});
            assertArrayEquals(new int[] {0, 1}, LayerSurgery.removedHeadColumns(dims, 2, kept));
            assertArrayEquals(new int[] {1, 3}, LayerSurgery.removedChannels(dims, kept));
        }
    }

    /** {@code dense} with random o_proj and down_proj compensation biases on every layer (as FLAP would add). */
    static LlamaModel withRandomCompensation(LlamaModel dense, List<KeptUnits> kept, Arena arena) {
        LlamaConfig c = dense.config();
        SplittableRandom random = new SplittableRandom(3);
        List<DecoderLayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            double[] headMeans =
                    random.doubles(c.layer(l).numHeads() * c.headDim(), -1, 1).toArray();
            double[] channelMeans =
                    random.doubles(c.layer(l).intermediateSize(), -1, 1).toArray();
            DecoderLayerWeights w = dense.layer(l);
            float[] o = LayerSurgery.compensation(
                    w.o(), LayerSurgery.removedHeadColumns(c.layer(l), c.headDim(), kept.get(l)), headMeans);
            float[] down = LayerSurgery.compensation(
                    w.down(), LayerSurgery.removedChannels(c.layer(l), kept.get(l)), channelMeans);
            layers.add(LayerSurgery.addOutputBiases(w, o, down, arena));
        }
        return dense.withLayers(StructuredModels.withBiasesOf(c, c.layers(), layers), layers);
    }

    /** An F32 tensor holding 0, 1, 2, ... */
    private static Tensor seq(Arena arena, int... shape) {
        Tensor t = Tensor.allocate(arena, dev.espalier.kernels.DType.F32, shape);
        for (int i = 0; i < t.numel(); i++) {
            t.setFlat(i, i);
        }
        return t;
    }
}
