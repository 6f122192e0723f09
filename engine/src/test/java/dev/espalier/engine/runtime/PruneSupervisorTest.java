package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.prune.SolveOrder;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.engine.prune.structured.StructuredMethod;
import dev.espalier.kernels.Tensor;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.StructuredSettings;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PruneSupervisorTest {
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

    private byte[] prune(String name, int devices, FaultInjector faults, SparsityPattern pattern, double sparsity)
            throws Exception {
        Path out = tmp.resolve(name + "-model");
        PipelineFixture.Plan plan = PipelineFixture.plan(
                model, PruneMethod.PRUNE_METHOD_WANDA, pattern, sparsity, calibration, devices, faults, out);
        PruneSupervisor.Outcome outcome = PipelineFixture.run(plan, tmp.resolve(name + "-run"));
        PruneSupervisor.Succeeded ok = assertInstanceOf(PruneSupervisor.Succeeded.class, outcome, outcome.toString());
        assertEquals(faults == FaultInjector.NONE ? 0 : 1, ok.restarts());
        assertEquals(model.config().numLayers(), ok.layers().size());
        return Files.readAllBytes(out.resolve("model.safetensors"));
    }

    private byte[] pruneStructured(String name, StructuredMethod.Kind kind, StructuredSettings options, int devices)
            throws Exception {
        Path out = tmp.resolve(name + "-model");
        PipelineFixture.Plan plan = PipelineFixture.plan(
                model,
                StructuredMethod.of(kind, model.config(), 0.3, options),
                calibration,
                devices,
                FaultInjector.NONE,
                out);
        PruneSupervisor.Succeeded ok = assertInstanceOf(
                PruneSupervisor.Succeeded.class, PipelineFixture.run(plan, tmp.resolve(name + "-run")));
        long dense = model.config().parameterCount();
        try (LlamaModel reloaded = ModelLoader.load(out, Arena.ofShared())) {
            long pruned = reloaded.config().parameterCount();
            assertTrue(pruned < dense, "structured pruning must remove parameters: " + pruned + " of " + dense);
        }
        assertEquals(model.config().numLayers(), ok.layers().size());
        return Files.readAllBytes(out.resolve("model.safetensors"));
    }

    /** FLAP: a scoring pass and a global allocation; GOA with recovery: the dense stream beside the pruned one. */
    @ParameterizedTest
    @EnumSource(value = StructuredMethod.Kind.class)
    void structuredPruningIsBitIdenticalOnOneAndTwoDevices(StructuredMethod.Kind kind) throws Exception {
        StructuredSettings options = kind == StructuredMethod.Kind.WANDA_SP
                ? StructuredSettings.newBuilder()
                        .setAllocation(StructuredSettings.Allocation.ALLOCATION_GLOBAL)
                        .build()
                : StructuredSettings.getDefaultInstance();
        assertArrayEquals(
                pruneStructured(kind + "-one", kind, options, 1), pruneStructured(kind + "-two", kind, options, 2));
    }

    /**
     * GOA's other scores through the whole pipeline, with the global scoring pass and the threshold head graph: each
     * removes parameters and prunes another model than the default depth-2 score (recovery off: the score alone
     * decides). depth2-swiglu also with recovery, where E[h²] comes from the recovery pass's down_proj Gram.
     */
    @Test
    void goaScoresAndTheThresholdHeadGraphPruneOtherModelsThanTheDefault() throws Exception {
        StructuredSettings.Builder base = StructuredSettings.newBuilder()
                .setRecovery(false)
                .setAllocation(StructuredSettings.Allocation.ALLOCATION_GLOBAL)
                .setScore(StructuredSettings.Score.SCORE_DEPTH2);
        byte[] depth2 = pruneStructured("depth2", StructuredMethod.Kind.GOA, base.build(), 1);
        for (StructuredSettings.Score score : new StructuredSettings.Score[] {
            StructuredSettings.Score.SCORE_DEPTH2_SWIGLU,
            StructuredSettings.Score.SCORE_DEPTH1,
            StructuredSettings.Score.SCORE_L1,
            StructuredSettings.Score.SCORE_L2,
            StructuredSettings.Score.SCORE_RANDOM
        }) {
            byte[] other = pruneStructured(
                    score.name(),
                    StructuredMethod.Kind.GOA,
                    base.clone().setScore(score).build(),
                    1);
            assertFalse(Arrays.equals(depth2, other), score + " pruned the same model as depth2");
        }
        StructuredSettings explicitDepth2 = StructuredSettings.newBuilder()
                .setScore(StructuredSettings.Score.SCORE_DEPTH2)
                .build();
        StructuredSettings explicitSwiglu = StructuredSettings.newBuilder()
                .setScore(StructuredSettings.Score.SCORE_DEPTH2_SWIGLU)
                .build();
        byte[] recoveryDefault = pruneStructured(
                "recovery-default", StructuredMethod.Kind.GOA, StructuredSettings.getDefaultInstance(), 1);
        assertFalse(Arrays.equals(
                pruneStructured("recovery-depth2", StructuredMethod.Kind.GOA, explicitDepth2, 1), recoveryDefault));
        assertArrayEquals(
                pruneStructured("recovery-swiglu", StructuredMethod.Kind.GOA, explicitSwiglu, 1),
                recoveryDefault,
                "depth2-swiglu is the default score");
        byte[] threshold = pruneStructured(
                "threshold",
                StructuredMethod.Kind.GOA,
                base.clone()
                        .setHeadGraph(StructuredSettings.HeadGraph.HEAD_GRAPH_THRESHOLD)
                        .setHeadThreshold(0.69)
                        .build(),
                1);
        assertFalse(Arrays.equals(depth2, threshold), "a threshold near ln 2 joins every head: one kept per layer");
    }

    @Test
    void prunedModelIsBitIdenticalOnOneAndTwoDevices() throws Exception {
        byte[] one = prune("one", 1, FaultInjector.NONE, SparsityPattern.UNSTRUCTURED, 0.5);
        byte[] two = prune("two", 2, FaultInjector.NONE, SparsityPattern.UNSTRUCTURED, 0.5);
        assertArrayEquals(one, two);
    }

    @Test
    void injectedDeviceFaultRestartsFromLastCheckpointWithTheSameResult() throws Exception {
        byte[] clean = prune("clean", 2, FaultInjector.NONE, SparsityPattern.UNSTRUCTURED, 0.5);
        // call 40 falls in the third layer: two layers are checkpointed by then and are loaded, not pruned again
        byte[] faulty = prune("faulty", 2, new FaultInjector(40), SparsityPattern.UNSTRUCTURED, 0.5);
        assertArrayEquals(clean, faulty);
    }

    @Test
    void twoFourPatternHoldsInEveryExportedMatrix() throws Exception {
        prune("nm", 1, FaultInjector.NONE, new SparsityPattern(2, 4), 0.5);
        try (LlamaModel pruned = ModelLoader.load(tmp.resolve("nm-model"), Arena.ofShared())) {
            for (int l = 0; l < pruned.config().numLayers(); l++) {
                for (LinearModule m : LinearModule.values()) {
                    Tensor w = m.weight(pruned.layer(l));
                    float[] v = w.toFloatArray();
                    for (int i = 0; i < v.length; i += 4) {
                        int nonzero = 0;
                        for (int j = 0; j < 4; j++) {
                            nonzero += v[i + j] != 0f ? 1 : 0;
                        }
                        assertEquals(true, nonzero <= 2, "layer " + l + " " + m + " group at " + i);
                    }
                }
            }
        }
    }

    private double meanError(PruneMethod method, double sparsity) throws Exception {
        Path out = tmp.resolve(method.name() + "-model");
        PipelineFixture.Plan plan = PipelineFixture.plan(
                model, method, SparsityPattern.UNSTRUCTURED, sparsity, calibration, 2, FaultInjector.NONE, out);
        PruneSupervisor.Succeeded ok = assertInstanceOf(
                PruneSupervisor.Succeeded.class, PipelineFixture.run(plan, tmp.resolve(method.name() + "-run")));
        double sum = 0;
        int n = 0;
        for (var layer : ok.layers().values()) {
            for (LinearPruner.PruneOutcome o : layer.values()) {
                assertEquals(false, Double.isNaN(o.relativeError()), "every matrix reports its reconstruction error");
                sum += o.relativeError();
                n++;
            }
        }
        return sum / n;
    }

    @Test
    void reconstructionErrorsOrderAsThePapersExpectAtSeventyPercent() throws Exception {
        double alps = meanError(PruneMethod.PRUNE_METHOD_ALPS, 0.7);
        double sparseGpt = meanError(PruneMethod.PRUNE_METHOD_SPARSEGPT, 0.7);
        double wanda = meanError(PruneMethod.PRUNE_METHOD_WANDA, 0.7);
        double magnitude = meanError(PruneMethod.PRUNE_METHOD_MAGNITUDE, 0.7);
        assertEquals(
                true,
                alps < sparseGpt && sparseGpt < wanda && wanda < magnitude,
                "mean relative errors: alps " + alps + ", sparsegpt " + sparseGpt + ", wanda " + wanda + ", magnitude "
                        + magnitude);
    }

    @Test
    void sequentialOrderSolvesLaterGroupsOnPrunedInputsAndIsDeviceIndependent() throws Exception {
        PruneSupervisor.Succeeded[] runs = new PruneSupervisor.Succeeded[3];
        byte[][] models = new byte[3][];
        SolveOrder[] orders = {SolveOrder.SEQUENTIAL, SolveOrder.SEQUENTIAL, SolveOrder.SHARED};
        int[] devices = {1, 2, 1};
        for (int i = 0; i < 3; i++) {
            Path out = tmp.resolve("order-" + i + "-model");
            PipelineFixture.Plan plan = PipelineFixture.plan(
                    model,
                    PruneMethod.PRUNE_METHOD_SPARSEGPT,
                    orders[i],
                    SparsityPattern.UNSTRUCTURED,
                    0.6,
                    calibration,
                    devices[i],
                    FaultInjector.NONE,
                    out);
            runs[i] = assertInstanceOf(
                    PruneSupervisor.Succeeded.class, PipelineFixture.run(plan, tmp.resolve("order-" + i + "-run")));
            models[i] = Files.readAllBytes(out.resolve("model.safetensors"));
        }
        assertArrayEquals(models[0], models[1], "sequential: same model on 1 and 2 devices");
        var sequential = runs[0].layers().get(0);
        var shared = runs[2].layers().get(0);
        assertEquals(
                shared.get(LinearModule.Q).relativeError(),
                sequential.get(LinearModule.Q).relativeError(),
                0.0,
                "q/k/v come first in both orders, from the same dense inputs");
        assertEquals(
                false,
                shared.get(LinearModule.O).relativeError()
                        == sequential.get(LinearModule.O).relativeError(),
                "o is solved on inputs from the pruned attention in the sequential order");
    }

    @Test
    void reportedOutcomesCountTheZerosWritten() throws Exception {
        Path out = tmp.resolve("counted-model");
        PipelineFixture.Plan plan = PipelineFixture.plan(
                model,
                PruneMethod.PRUNE_METHOD_MAGNITUDE,
                SparsityPattern.UNSTRUCTURED,
                0.6,
                calibration,
                1,
                FaultInjector.NONE,
                out);
        PruneSupervisor.Succeeded ok = assertInstanceOf(
                PruneSupervisor.Succeeded.class, PipelineFixture.run(plan, tmp.resolve("counted-run")));
        for (var layer : ok.layers().values()) {
            for (LinearPruner.PruneOutcome o : layer.values()) {
                assertEquals(0.6, o.sparsity(), 1.0 / o.total() + 1e-9);
            }
        }
    }
}
