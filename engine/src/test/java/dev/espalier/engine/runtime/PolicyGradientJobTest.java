package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.forward.LlamaForward;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.policy.LayerKeep;
import dev.espalier.engine.prune.policy.Mask;
import dev.espalier.engine.prune.policy.PolicyState;
import dev.espalier.engine.prune.policy.RolloutMasks;
import dev.espalier.engine.prune.policy.UnitKind;
import dev.espalier.engine.prune.policy.UnitLayout;
import dev.espalier.engine.prune.structured.LayerSurgery;
import dev.espalier.kernels.cpu.CpuOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The masks rollouts run under agree with the model the job exports, on stories260K. */
class PolicyGradientJobTest {
    private static LlamaModel model;
    private static int[] window;

    @BeforeAll
    static void load() {
        model = PipelineFixture.load();
        window = PipelineFixture.calibration(1, 64)[0];
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static double[] nll(LlamaModel m, Mask mask) {
        try (CpuOps ops = new CpuOps(1);
                LlamaForward forward = new LlamaForward(m, ops, window.length, window.length)) {
            return forward.negativeLogLikelihoods(window, mask == null ? null : RolloutMasks.of(mask, model.config()));
        }
    }

    /** The model with every layer compacted to the units {@code keep} names, as the device workers compact them. */
    private static LlamaModel compact(LlamaModel dense, List<LayerKeep> keep) {
        LlamaConfig config = dense.config();
        List<DecoderLayerWeights> layers = new ArrayList<>();
        List<LlamaConfig.LayerDims> dims = new ArrayList<>();
        for (LayerKeep k : keep) {
            LlamaConfig.LayerDims d = config.layer(k.layer());
            KeptUnits kept = k.toKeptUnits(d.numHeads() / d.numKvHeads());
            layers.add(LayerSurgery.compact(dense.layer(k.layer()), d, config.headDim(), kept, Arena.ofAuto()));
            dims.add(kept.dims(d));
        }
        return dense.withLayers(config.withLayers(dims), layers);
    }

    @Test
    void maskedRolloutEqualsTheCompactedModelItsUnitsDescribe() {
        Mask mask = Mask.sample(PolicyState.uniform(UnitLayout.of(model.config(), false), 3, 0.6, 0.5, 1.0), 0, 0);
        List<LayerKeep> keep = new ArrayList<>();
        for (int l = 0; l < model.config().numLayers(); l++) {
            boolean[] groups = mask.bits(UnitKind.HEAD, l);
            boolean[] channels = mask.bits(UnitKind.CHANNEL, l);
            keep.add(new LayerKeep(
                    l,
                    true,
                    IntStream.range(0, groups.length).filter(i -> groups[i]).toArray(),
                    IntStream.range(0, channels.length).filter(i -> channels[i]).toArray()));
        }
        LlamaModel compact = compact(model, keep);
        assertTrue(compact.config().parameterCount() < model.config().parameterCount());
        double[] masked = nll(model, mask);
        double[] compacted = nll(compact, null);
        for (int i = 0; i < masked.length; i++) {
            assertEquals(masked[i], compacted[i], 1e-4, "token " + i);
        }
    }

    @Test
    void droppedLayerUnitLeavesTheResidualStreamAsIfTheLayerWereRemoved() {
        LlamaConfig config = model.config();
        int dropped = 2;
        UnitLayout layout = UnitLayout.of(config, true);
        boolean[] heads = new boolean[layout.total(UnitKind.HEAD)];
        boolean[] channels = new boolean[layout.total(UnitKind.CHANNEL)];
        boolean[] layers = new boolean[layout.total(UnitKind.LAYER)];
        Arrays.fill(heads, true);
        Arrays.fill(channels, true);
        Arrays.fill(layers, true);
        layers[dropped] = false;
        Mask mask = Mask.of(layout, 0, 0, heads, channels, layers);
        List<DecoderLayerWeights> kept = new ArrayList<>();
        List<LlamaConfig.LayerDims> dims = new ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            if (l != dropped) {
                kept.add(model.layer(l));
                dims.add(config.layer(l));
            }
        }
        LlamaModel shorter = model.withLayers(config.withLayers(dims), kept);
        assertArrayEquals(nll(shorter, null), nll(model, mask));
    }
}
