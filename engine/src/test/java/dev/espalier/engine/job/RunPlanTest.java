package dev.espalier.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.bench.RealShape;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.kernels.DType;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.UnstructuredSettings;
import org.junit.jupiter.api.Test;

/** The plan's counts against the formulas written out by hand for the LLaMA-2-7B shape. */
class RunPlanTest {
    private static final LlamaConfig L7B = RealShape.LLAMA2_7B.config(32, DType.BF16);
    private static final double PARAMS = 4.0 * 4096 * 4096 + 3.0 * 11008 * 4096; // one layer's seven maps
    private static final long GIB = 1L << 30;

    private static JobSpec spec(PruneMethod method, boolean errors) {
        return JobSpec.newBuilder()
                .setMethod(method)
                .setSparsity(0.5)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setCalibration("c4.jsonl")
                .setCalibrationSamples(16)
                .setCalibrationSeqlen(2048)
                .setUnstructured(UnstructuredSettings.newBuilder().setReconstructionError(errors))
                .build();
    }

    @Test
    void wandaRunsEveryLayerTwiceAndNothingElse() {
        RunPlan plan = RunPlan.of(spec(PruneMethod.PRUNE_METHOD_WANDA, false), L7B, 64 * GIB);
        double tokens = 16 * 2048;
        double attention = 2.0 * 16 * 2048.0 * 2048 * 4096; // causal QKᵀ and AV, per layer and pass
        assertEquals(32 * 2 * (2 * PARAMS * tokens + attention), plan.forwardFlops(), 1e6);
        assertEquals(0, plan.gramFlops());
        assertEquals(0, plan.solveFlops());
        assertEquals(0, plan.spillBytes());
        assertEquals(16L * 2048, plan.tokens());
        assertTrue(plan.exportBytes() > 13_400_000_000L && plan.exportBytes() < 13_600_000_000L, "7B in bf16");
    }

    @Test
    void sparseGptAddsItsGramsAndSolves() {
        RunPlan plan = RunPlan.of(spec(PruneMethod.PRUNE_METHOD_SPARSEGPT, false), L7B, 64 * GIB);
        double tokens = 16 * 2048;
        double grams = tokens * (3.0 * 4096 * 4096 + 11008.0 * 11008);
        assertEquals(32 * grams, plan.gramFlops(), 1e6);
        double solve = 0;
        for (double[] m : new double[][] {
            {4096, 4096}, {4096, 4096}, {4096, 4096}, {4096, 4096}, {11008, 4096}, {11008, 4096}, {4096, 11008}
        }) {
            solve += m[1] * m[1] * m[1] + 2 * m[0] * m[1] * m[1];
        }
        assertEquals(32 * solve, plan.solveFlops(), 1e6);
        assertEquals(0, plan.errorFlops());
        assertTrue(plan.peakMemoryBytes() < 8 * GIB, "two 7B layers in f32 and one layer's Grams fit 8 GiB");
    }

    /** ReconstructionError: ΔW·H and W·H, two GEMMs of 2·r·d² each per matrix, on top of the Grams. */
    @Test
    void reconstructionErrorsCountTheirGramsAndTwoGemmsPerMatrix() {
        RunPlan with = RunPlan.of(spec(PruneMethod.PRUNE_METHOD_WANDA, true), L7B, 64 * GIB);
        RunPlan without = RunPlan.of(spec(PruneMethod.PRUNE_METHOD_WANDA, false), L7B, 64 * GIB);
        double perLayer = 4.0 * (4 * 4096.0 * 4096 * 4096 + 2 * 11008.0 * 4096 * 4096 + 4096.0 * 11008 * 11008);
        assertEquals(32 * perLayer, with.errorFlops(), 1e6);
        assertEquals(with.forwardFlops() + with.gramFlops() + with.errorFlops(), with.flops(), 1e6);
        assertEquals(without.forwardFlops(), without.flops(), 1e6);
        assertTrue(
                with.describe(100, "test").get(1).contains("reconstruction errors 146.0"),
                with.describe(100, "t").get(1));
        RunPlan structured = RunPlan.of(
                spec(PruneMethod.PRUNE_METHOD_FLAP, true).toBuilder()
                        .setSparsity(0.2)
                        .build(),
                L7B,
                64 * GIB);
        assertEquals(0, structured.errorFlops(), "structured runs measure no per-matrix error");
    }

    @Test
    void activationsBeyondTheBudgetAreCountedAsSpilled() {
        long activations = 2L * 16 * 2048 * 4096 * 4; // a layer's inputs and the next one's
        RunPlan plan = RunPlan.of(spec(PruneMethod.PRUNE_METHOD_WANDA, true), L7B, GIB / 4);
        assertEquals(activations - GIB / 4, plan.spillBytes());
        assertTrue(plan.gramFlops() > 0, "measuring reconstruction errors costs a Gram per input");
    }

    @Test
    void policyGradientIsRefusedWithTheReason() {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> RunPlan.of(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT, false), L7B, GIB));
        assertTrue(e.getMessage().contains("--steps"), e.getMessage());
    }
}
