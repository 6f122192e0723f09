package dev.espalier.cli.commands;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.espalier.protocol.v1.AlpsSettings;
import dev.espalier.protocol.v1.ExportForm;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RuntimeSettings;
import dev.espalier.protocol.v1.StructuredSettings;
import dev.espalier.protocol.v1.UnstructuredSettings;
import org.junit.jupiter.api.Test;

class MethodOptionsTest {

    private static JobSpec apply(PruneMethod method, String... keyValues) {
        JobSpec.Builder spec = JobSpec.newBuilder();
        for (int i = 0; i < keyValues.length; i += 2) {
            MethodOptions.apply(spec, method, keyValues[i], keyValues[i + 1]);
        }
        return spec.build();
    }

    @Test
    void keysAreTheFieldsOfTheMethodsSettingsAndValuesTheirTypes() {
        assertEquals(
                JobSpec.newBuilder()
                        .setStructured(StructuredSettings.newBuilder()
                                .setHeads(StructuredSettings.AttentionUnit.ATTENTION_UNIT_QUERY)
                                .setRecovery(false)
                                .setTau(0.05)
                                .setExport(ExportForm.EXPORT_FORM_MASKED_DENSE))
                        .setRuntime(RuntimeSettings.newBuilder().setMaxRestarts(0))
                        .build(),
                apply(
                        PruneMethod.PRUNE_METHOD_GOA,
                        "heads",
                        "query",
                        "recovery",
                        "off",
                        "tau",
                        "0.05",
                        "export",
                        "masked-dense",
                        "max_restarts",
                        "0"));
        assertEquals(
                JobSpec.newBuilder()
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setReconstructionError(false)
                                .setSolveOrder(UnstructuredSettings.SolveOrder.SOLVE_ORDER_SEQUENTIAL)
                                .setAlps(AlpsSettings.newBuilder()
                                        .setIterations(50)
                                        .setFixedRho(2)))
                        .build(),
                apply(
                        PruneMethod.PRUNE_METHOD_ALPS,
                        "reconstruction_error",
                        "0",
                        "solve_order",
                        "sequential",
                        "iterations",
                        "50",
                        "fixed_rho",
                        "2"));
        assertEquals(
                JobSpec.newBuilder()
                        .setPolicyGradient(PolicyGradientSettings.newBuilder()
                                .setInit(PolicyGradientSettings.Init.INIT_WANDA_SP)
                                .setCheckpointEvery(10))
                        .build(),
                apply(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT, "init", "wanda-sp", "checkpoint_every", "10"));
    }

    @Test
    void anUnknownKeyOrABadValueIsNamed() {
        assertEquals(
                "unknown --method-option for goa: steps (it takes allocation, heads, recovery, ridge, tau, export, score,"
                        + " head_graph, head_threshold, window, max_restarts, debug_fail_call, pipeline_nodes)",
                assertThrows(IllegalArgumentException.class, () -> apply(PruneMethod.PRUNE_METHOD_GOA, "steps", "3"))
                        .getMessage());
        assertEquals(
                "unknown --method-option for alps: blocksize (it takes solve_order, reconstruction_error, layer_sparsity, owl_m, owl_lambda, rho, iterations,"
                        + " update_interval, switch_iteration, stop_rho, cg_iterations, cg_tolerance, damp, fixed_rho, window, max_restarts,"
                        + " debug_fail_call, pipeline_nodes)",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> apply(PruneMethod.PRUNE_METHOD_ALPS, "blocksize", "64"))
                        .getMessage());
        assertEquals(
                "--method-option heads must be one of group, query, got \"some\"",
                assertThrows(IllegalArgumentException.class, () -> apply(PruneMethod.PRUNE_METHOD_GOA, "heads", "some"))
                        .getMessage());
        assertEquals(
                "--method-option steps must be an integer, got \"many\"",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> apply(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT, "steps", "many"))
                        .getMessage());
    }
}
