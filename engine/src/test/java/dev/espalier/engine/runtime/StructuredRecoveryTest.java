package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.forward.DecoderLayerForward;
import dev.espalier.engine.forward.LayerMask;
import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LayerCheckpoint;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.structured.LayerSurgery;
import dev.espalier.engine.prune.structured.MaskRecovery;
import dev.espalier.engine.prune.structured.RidgeRefit;
import dev.espalier.engine.prune.structured.StructuredMethod;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.reference.ReferenceOps;
import dev.espalier.protocol.v1.StructuredSettings;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Recovery for every structured method and for given masks, through the whole pipeline on stories260K: the error of
 * each layer's output (the residual stream after the layer, pruned model against dense model, on the calibration
 * sequences) with recovery against without.
 */
class StructuredRecoveryTest {
    private static final TensorOps OPS = new ReferenceOps();
    private static LlamaModel model;
    private static int[][] calibration;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        model = PipelineFixture.load();
        calibration = PipelineFixture.calibration(6, 128);
    }

    @AfterAll
    static void stop() {
        model.close();
    }

    private LlamaModel prune(String name, LayerMethod method) throws Exception {
        Path out = tmp.resolve(name + "-model");
        PipelineFixture.Plan plan = PipelineFixture.plan(model, method, calibration, 1, FaultInjector.NONE, out);
        assertInstanceOf(PruneSupervisor.Succeeded.class, PipelineFixture.run(plan, tmp.resolve(name + "-run")));
        return ModelLoader.load(out, Arena.ofShared());
    }

    /**
     * Per layer l: Σ ||h_l − h_l^dense||² / Σ ||h_l^dense||² over the calibration tokens, h_l the residual stream after
     * layer l of the model whose layers {@code layers} gives (its configuration {@code config}).
     */
    private static double[] layerErrors(LlamaConfig config, IntFunction<DecoderLayerWeights> layers) {
        LlamaConfig dense = model.config();
        int layerCount = dense.numLayers();
        double[] error = new double[layerCount];
        double[] energy = new double[layerCount];
        int maxTokens = Arrays.stream(calibration).mapToInt(s -> s.length).max().orElseThrow();
        try (Arena arena = Arena.ofConfined()) {
            DecoderLayerForward prunedForward = new DecoderLayerForward(config, OPS, arena, maxTokens, maxTokens);
            DecoderLayerForward denseForward = new DecoderLayerForward(dense, OPS, arena, maxTokens, maxTokens);
            int kv = dense.layer(0).numKvHeads() * dense.headDim();
            for (int[] sequence : calibration) {
                int n = sequence.length;
                Tensor h = Tensor.allocate(arena, DType.F32, n, dense.hiddenSize());
                Tensor d = Tensor.allocate(arena, DType.F32, n, dense.hiddenSize());
                for (int i = 0; i < n; i++) {
                    model.embedTokens().rowSlice(sequence[i], sequence[i] + 1).copyInto(h.rowSlice(i, i + 1));
                }
                h.copyInto(d);
                for (int l = 0; l < layerCount; l++) {
                    prunedForward.apply(
                            l,
                            layers.apply(l),
                            LayerMask.NONE,
                            LayerTap.NONE,
                            h,
                            0,
                            Tensor.allocate(arena, DType.F32, n, kv),
                            Tensor.allocate(arena, DType.F32, n, kv));
                    denseForward.apply(
                            l,
                            model.layer(l),
                            LayerMask.NONE,
                            LayerTap.NONE,
                            d,
                            0,
                            Tensor.allocate(arena, DType.F32, n, kv),
                            Tensor.allocate(arena, DType.F32, n, kv));
                    float[] hv = h.toFloatArray();
                    float[] dv = d.toFloatArray();
                    for (int i = 0; i < hv.length; i++) {
                        double e = hv[i] - dv[i];
                        error[l] += e * e;
                        energy[l] += (double) dv[i] * dv[i];
                    }
                }
            }
        }
        for (int l = 0; l < layerCount; l++) {
            error[l] /= energy[l];
        }
        return error;
    }

    private static double[] layerErrors(LlamaModel pruned) {
        return layerErrors(pruned.config(), pruned::layer);
    }

    private static StructuredMethod method(StructuredMethod.Kind kind, boolean recovery) {
        return StructuredMethod.of(
                kind,
                model.config(),
                0.3,
                StructuredSettings.newBuilder().setRecovery(recovery).build());
    }

    /** Wanda-sp and FLAP (their default widths) choose their units afresh after the refits, and every layer gains. */
    @ParameterizedTest
    @EnumSource(
            value = StructuredMethod.Kind.class,
            names = {"WANDA_SP", "FLAP"})
    void recoveryLowersEveryLayersOutputError(StructuredMethod.Kind kind) throws Exception {
        assertEquals(false, method(kind, false).recovery(), kind + ": recovery is off by default");
        assertEquals(
                false,
                StructuredMethod.of(kind, model.config(), 0.3, StructuredSettings.getDefaultInstance())
                        .recovery());
        double[] off;
        double[] on;
        try (LlamaModel pruned = prune(kind + "-off", method(kind, false))) {
            off = layerErrors(pruned);
        }
        try (LlamaModel pruned = prune(kind + "-on", method(kind, true))) {
            on = layerErrors(pruned);
        }
        assertTrue(
                Arrays.stream(on).sum() < Arrays.stream(off).sum(),
                "recovery changes nothing: on " + Arrays.toString(on) + ", off " + Arrays.toString(off));
        for (int l = 0; l < off.length; l++) {
            assertTrue(
                    on[l] <= off[l],
                    kind + " layer " + l + ": recovery on " + Arrays.toString(on) + ", off " + Arrays.toString(off));
        }
    }

    /** Seeded keep sets of the shape policy-gradient learns: whole key/value groups, and channels, per layer. */
    private static List<KeptUnits> groupKeepSets(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<KeptUnits> kept = new ArrayList<>();
        for (int l = 0; l < model.config().numLayers(); l++) {
            LlamaConfig.LayerDims d = model.config().layer(l);
            int perGroup = d.numHeads() / d.numKvHeads();
            int[] groups = pick(random, d.numKvHeads(), Math.max(1, d.numKvHeads() * 2 / 3));
            int[] queryHeads = new int[groups.length * perGroup];
            for (int i = 0; i < groups.length; i++) {
                for (int j = 0; j < perGroup; j++) {
                    queryHeads[i * perGroup + j] = groups[i] * perGroup + j;
                }
            }
            kept.add(new KeptUnits(queryHeads, pick(random, d.intermediateSize(), d.intermediateSize() * 2 / 3)));
        }
        return kept;
    }

    private static int[] pick(SplittableRandom random, int n, int k) {
        int[] all = new int[n];
        Arrays.setAll(all, i -> i);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        int[] chosen = Arrays.copyOf(all, k);
        Arrays.sort(chosen);
        return chosen;
    }

    /**
     * Given masks (policy-gradient's): every layer keeps exactly the given units, as its checkpoint records, and its
     * output error is no higher than with the plain compaction of the dense layer to the same units.
     */
    @Test
    void givenMasksAreKeptExactlyAndRecoveryLowersEveryLayersOutputError() throws Exception {
        List<KeptUnits> kept = groupKeepSets(7);
        MaskRecovery recovery =
                new MaskRecovery("policy-gradient", model.config(), kept, RidgeRefit.DEFAULT_RELATIVE_DAMPING);
        double[] on;
        try (LlamaModel pruned = prune("masks", recovery)) {
            on = layerErrors(pruned);
            for (int l = 0; l < kept.size(); l++) {
                assertEquals(
                        kept.get(l).dims(model.config().layer(l)),
                        pruned.config().layer(l),
                        "layer " + l);
            }
        }
        try (RunDirectory run = RunDirectory.open(tmp.resolve("masks-run"))) {
            for (int l = 0; l < kept.size(); l++) {
                KeptUnits recorded = KeptUnits.fromMetadata(LayerCheckpoint.metadata(run.verifiedLayer(l)));
                assertArrayEquals(kept.get(l).queryHeads(), recorded.queryHeads(), "layer " + l + " heads");
                assertArrayEquals(kept.get(l).channels(), recorded.channels(), "layer " + l + " channels");
            }
        }
        double[] off;
        try (Arena arena = Arena.ofConfined()) {
            List<DecoderLayerWeights> compacted = new ArrayList<>();
            List<LlamaConfig.LayerDims> dims = new ArrayList<>();
            for (int l = 0; l < kept.size(); l++) {
                LlamaConfig.LayerDims d = model.config().layer(l);
                compacted.add(
                        LayerSurgery.compact(model.layer(l), d, model.config().headDim(), kept.get(l), arena));
                dims.add(kept.get(l).dims(d));
            }
            off = layerErrors(model.config().withLayers(dims), compacted::get);
        }
        assertTrue(
                Arrays.stream(on).sum() < Arrays.stream(off).sum(),
                "recovery changes nothing: on " + Arrays.toString(on) + ", off " + Arrays.toString(off));
        for (int l = 0; l < off.length; l++) {
            assertTrue(
                    on[l] <= off[l],
                    "layer " + l + ": recovery on " + Arrays.toString(on) + ", off " + Arrays.toString(off));
        }
    }
}
