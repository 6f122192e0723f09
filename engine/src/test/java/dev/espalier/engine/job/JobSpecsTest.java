package dev.espalier.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.AlpsSettings;
import dev.espalier.protocol.v1.Device;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RuntimeSettings;
import dev.espalier.protocol.v1.SparseGptSettings;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.StructuredSettings;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobSpecsTest {

    private static JobSpec.Builder spec(PruneMethod method) {
        return JobSpec.newBuilder()
                .setModel("/m")
                .setOutput("/o")
                .setCalibration("/c.txt")
                .setCalibrationSamples(8)
                .setMethod(method)
                .setSparsity(0.5)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED);
    }

    @Test
    void aPathThatIsNoPathIsAProblemNotACrash() { // found by NodeSubmitFuzzTest: a NUL in the model path
        List<String> problems = JobSpecs.problems(
                spec(PruneMethod.PRUNE_METHOD_WANDA).setModel("/m/\u0000x").build());
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(
                problems.getFirst()
                        .startsWith("model is not a valid path (Nul character not allowed), got '/m/\\u0000x'"),
                problems.getFirst());
    }

    @Test
    void aRangeIsPartOfTheSpecAndRefusedWhenMalformedOrWithoutItsFile() {
        assertEquals(
                List.of(),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setCalibrationRange("0:0.5")
                        .addEvalData("/e.txt")
                        .setEvalRange("0.5:1")
                        .build()));
        assertEquals(
                List.of("--calib-range '0.5': expected " + dev.espalier.engine.data.TextRange.SYNTAX),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setCalibrationRange("0.5")
                        .build()));
        assertEquals(
                List.of("--eval-range '0.6:0.2': expected the start before the end"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .addEvalData("/e.txt")
                        .setEvalRange("0.6:0.2")
                        .build()));
        assertEquals(
                List.of("--calib-range '0:0.5' needs a calibration text file (--calib <file>), got --calib self"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA_SP)
                        .setSparsity(0.3)
                        .setCalibration("self")
                        .setCalibrationRange("0:0.5")
                        .build()));
        assertEquals(
                List.of("--eval-range '0.5:1' needs evaluation text (--eval-data <file>), got none"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setEvalRange("0.5:1")
                        .build()));
        assertTrue(!spec(PruneMethod.PRUNE_METHOD_WANDA)
                .setCalibrationRange("0:0.5")
                .build()
                .equals(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setCalibrationRange("0:0.6")
                        .build()));
    }

    @Test
    void anEvalRangeThatDoesNotFitItsFileIsRefusedBeforeAnyWork(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        java.nio.file.Path eval = java.nio.file.Files.writeString(tmp.resolve("e.txt"), "one line\n");
        java.nio.file.Path calib = java.nio.file.Files.writeString(tmp.resolve("c.txt"), "calibration text\n");
        JobSpec spec = spec(PruneMethod.PRUNE_METHOD_MAGNITUDE)
                .setCalibration(calib.toString())
                .addEvalData(eval.toString())
                .setEvalRange("0:1KB")
                .build();
        assertEquals(
                eval + ": --eval-range '0:1000B': expected offsets within the file's 9 bytes, got end 1000",
                assertThrows(dev.espalier.engine.data.DataFormatException.class, () -> JobExecutors.validate(spec))
                        .getMessage());
        JobSpec calibSpec = spec(PruneMethod.PRUNE_METHOD_MAGNITUDE)
                .setCalibration(calib.toString())
                .setCalibrationRange("2B:5B")
                .build();
        assertEquals(
                calib + ": --calib-range '2B:5B': selects no line: bytes 2 to 5 lie inside one line (ranges cut at"
                        + " line starts)",
                assertThrows(dev.espalier.engine.data.DataFormatException.class, () -> JobExecutors.validate(calibSpec))
                        .getMessage());
    }

    @Test
    void aSpecOfEveryFamilyWithItsSettingsHasNoProblems() {
        assertEquals(
                List.of(),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_ALPS)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setSolveOrder(UnstructuredSettings.SolveOrder.SOLVE_ORDER_SEQUENTIAL)
                                .setAlps(AlpsSettings.newBuilder().setRho(0.2).setFixedRho(1)))
                        .build()));
        assertEquals(
                List.of(),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_GOA)
                        .setSparsity(0.3)
                        .setCalibration("self")
                        .setStructured(
                                StructuredSettings.newBuilder().setTau(0.05).setRecovery(false))
                        .build()));
        assertEquals(
                List.of(),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                        .setSparsity(0)
                        .setPolicyGradient(
                                PolicyGradientSettings.newBuilder().setLr(0).setSteps(1))
                        .build()));
        assertEquals(
                List.of(),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_SPARSEGPT)
                        .setSparsity(0)
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_4_8)
                        .addAllDevices(JobSpecs.devicesOf("cpu:2"))
                        .build()));
    }

    @Test
    void theExportDtypeAndShardSizeAreChecked() {
        assertEquals(
                List.of(
                        "export_dtype 9 is not a known dtype (auto, f32, bf16, f16)",
                        "max_shard_bytes (--max-shard-size) must be ≥ 0 (0: 5 GB), got -1"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setExportDtypeValue(9)
                        .setMaxShardBytes(-1)
                        .build()));
        var format = JobSpecs.exportFormat(spec(PruneMethod.PRUNE_METHOD_WANDA)
                .setExportDtype(dev.espalier.protocol.v1.ExportDType.EXPORT_D_TYPE_F16)
                .build());
        assertEquals(dev.espalier.kernels.DType.F16, format.dtype());
        assertEquals(dev.espalier.engine.model.ModelExporter.DEFAULT_MAX_SHARD_BYTES, format.maxShardBytes());
        assertEquals(
                null,
                JobSpecs.exportFormat(spec(PruneMethod.PRUNE_METHOD_WANDA).build())
                        .dtype());
    }

    @Test
    void anEvaluationWindowIsRefusedWhereTheProtocolFixesItsOwn() {
        assertEquals(
                List.of("eval_seqlen (--eval-seqlen): seq128 scores windows of 128 tokens by definition; a window of"
                        + " 2048 needs the stream or full protocol"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setEvalProtocol(dev.espalier.protocol.v1.PerplexityProtocol.PERPLEXITY_PROTOCOL_SEQ128)
                        .setEvalSeqlen(2048)
                        .build()));
        assertEquals(
                List.of("eval_seqlen (--eval-seqlen): the evaluation window must be ≥ 0 tokens (0: the model's"
                        + " context), got -1"),
                JobSpecs.problems(
                        spec(PruneMethod.PRUNE_METHOD_WANDA).setEvalSeqlen(-1).build()));
        assertEquals(
                List.of(),
                JobSpecs.problems(
                        spec(PruneMethod.PRUNE_METHOD_WANDA).setEvalSeqlen(4096).build()));
    }

    @Test
    void aPipelineAcrossNodesNeedsALayerWiseMethodAndANodeCountInRange() {
        RuntimeSettings twoNodes =
                RuntimeSettings.newBuilder().setPipelineNodes(2).build();
        for (PruneMethod layerWise : List.of(
                PruneMethod.PRUNE_METHOD_MAGNITUDE,
                PruneMethod.PRUNE_METHOD_WANDA,
                PruneMethod.PRUNE_METHOD_SPARSEGPT,
                PruneMethod.PRUNE_METHOD_ALPS,
                PruneMethod.PRUNE_METHOD_WANDA_SP,
                PruneMethod.PRUNE_METHOD_GOA)) {
            assertEquals(
                    List.of(),
                    JobSpecs.problems(spec(layerWise).setRuntime(twoNodes).build()),
                    layerWise.toString());
        }
        assertEquals(
                List.of("runtime.pipeline_nodes is 2: flap with these settings allocates widths over every layer's"
                        + " scores, which one node gathers; set it to 1, or choose per-layer widths"
                        + " (--method-option allocation=uniform)"),
                JobSpecs.problems(
                        spec(PruneMethod.PRUNE_METHOD_FLAP).setRuntime(twoNodes).build()));
        assertEquals(
                List.of(),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_FLAP)
                        .setStructured(StructuredSettings.newBuilder()
                                .setAllocation(StructuredSettings.Allocation.ALLOCATION_UNIFORM))
                        .setRuntime(twoNodes)
                        .build()));
        assertEquals(
                List.of(
                        "runtime.pipeline_nodes is 2: policy-gradient rollouts run on the job's own node; leave it at 1"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                        .setRuntime(twoNodes)
                        .build()));
        for (int bad : new int[] {0, 17}) {
            assertEquals(
                    List.of("runtime.pipeline_nodes must be in [1, 16], got " + bad),
                    JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                            .setRuntime(RuntimeSettings.newBuilder().setPipelineNodes(bad))
                            .build()));
        }
    }

    @Test
    void eachSettingOutsideItsRangeIsNamedWithTheRange() {
        assertEquals(
                List.of(
                        "unstructured.alps.rho must be finite and > 0, got 0.0",
                        "unstructured.alps.update_interval must be ≥ 1, got 0"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_ALPS)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setAlps(AlpsSettings.newBuilder().setRho(0).setUpdateInterval(0)))
                        .build()));
        assertEquals(
                List.of("unstructured.sparsegpt.percdamp must be finite and ≥ 0, got Infinity"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_SPARSEGPT)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setSparsegpt(SparseGptSettings.newBuilder().setPercdamp(Double.POSITIVE_INFINITY)))
                        .build()));
        assertEquals(
                List.of("unstructured.sparsegpt.blocksize must be a multiple of 4 for pattern 2:4, got 6"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_SPARSEGPT)
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_2_4)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setSparsegpt(SparseGptSettings.newBuilder().setBlocksize(6)))
                        .build()));
        assertEquals(
                List.of(
                        "structured.ridge must be finite and > 0, got NaN",
                        "structured.tau must be finite and ≥ 0, got -1.0"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_GOA)
                        .setStructured(StructuredSettings.newBuilder()
                                .setRidge(Double.NaN)
                                .setTau(-1))
                        .build()));
        assertEquals(
                List.of(
                        "policy_gradient.rollouts must be ≥ 2 (the gradient divides by K − 1), got 1",
                        "policy_gradient.layer_sparsity must be in [0, 1), got 1.0"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                        .setPolicyGradient(PolicyGradientSettings.newBuilder()
                                .setRollouts(1)
                                .setLayerSparsity(1))
                        .build()));
        assertEquals(
                List.of("policy_gradient.layer_rates=uniform fixes every layer's rate; it cannot be combined with"
                        + " layer_sparsity 0.25 (layer units are chosen globally)"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                        .setPolicyGradient(PolicyGradientSettings.newBuilder()
                                .setLayerRates(PolicyGradientSettings.LayerRates.LAYER_RATES_UNIFORM)
                                .setLayerSparsity(0.25))
                        .build()));
        assertEquals(
                List.of(
                        "policy_gradient.preset must be espalier or paper, got value 9",
                        "policy_gradient.layer_rates must be global or uniform, got value 7"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                        .setPolicyGradient(PolicyGradientSettings.newBuilder()
                                .setPresetValue(9)
                                .setLayerRatesValue(7))
                        .build()));
        assertEquals(
                List.of("devices[0].cpu_shares (cpu:N) must be in [1, 64], got 0", "runtime.window must be ≥ 1, got 0"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .addDevices(Device.newBuilder()
                                .setKind(Device.Kind.KIND_CPU)
                                .setCpuShares(0))
                        .setRuntime(RuntimeSettings.newBuilder().setWindow(0))
                        .build()));
    }

    @Test
    void alpsNeedsAtLeastOneIterationAndNoNumberMayBeNaN() {
        assertEquals(
                List.of("unstructured.alps.iterations must be ≥ 1, got 0"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_ALPS)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setAlps(AlpsSettings.newBuilder().setIterations(0)))
                        .build()));
        assertEquals(
                List.of(
                        "unstructured.alps.stop_rho must be finite and ≥ 0, got NaN",
                        "unstructured.alps.cg_tolerance must be finite" + " and > 0, got NaN",
                        "unstructured.alps.damp must be finite and ≥ 0, got NaN",
                        "unstructured.alps.fixed_rho must be" + " finite and > 0, got NaN"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_ALPS)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setAlps(AlpsSettings.newBuilder()
                                        .setStopRho(Double.NaN)
                                        .setCgTolerance(Double.NaN)
                                        .setDamp(Double.NaN)
                                        .setFixedRho(Double.NaN)))
                        .build()));
        assertEquals(
                List.of(
                        "sparsity must be in [0, 1), got NaN",
                        "policy_gradient.lr must be finite and ≥ 0, got NaN",
                        "policy_gradient.layer_sparsity must be in [0, 1), got NaN"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                        .setSparsity(Double.NaN)
                        .setPolicyGradient(PolicyGradientSettings.newBuilder()
                                .setLr(Double.NaN)
                                .setLayerSparsity(Double.NaN))
                        .build()));
    }

    @Test
    void settingsMustMatchTheMethodAndThePatternItsFamily() {
        assertEquals(
                List.of("policy_gradient settings do not apply to wanda, which takes unstructured settings"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setPolicyGradient(PolicyGradientSettings.getDefaultInstance())
                        .build()));
        assertEquals(
                List.of("unstructured.sparsegpt settings (blocksize, percdamp) apply to sparsegpt only, not to alps"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_ALPS)
                        .setUnstructured(
                                UnstructuredSettings.newBuilder().setSparsegpt(SparseGptSettings.getDefaultInstance()))
                        .build()));
        for (PruneMethod structured : new PruneMethod[] {
            PruneMethod.PRUNE_METHOD_WANDA_SP, PruneMethod.PRUNE_METHOD_FLAP, PruneMethod.PRUNE_METHOD_GOA
        }) {
            assertEquals(
                    List.of(),
                    JobSpecs.problems(spec(structured)
                            .setStructured(StructuredSettings.newBuilder().setRecovery(true))
                            .build()),
                    structured + " takes recovery");
        }
        assertEquals(
                List.of(),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                        .setPolicyGradient(PolicyGradientSettings.newBuilder().setRecovery(true))
                        .build()));
        assertEquals(
                List.of("structured settings do not apply to wanda, which takes unstructured settings"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setStructured(StructuredSettings.newBuilder().setRecovery(true))
                        .build()));
        assertEquals(
                List.of(
                        "--pattern 2:4 does not apply to policy-gradient: it removes whole key/value groups and FFN channels"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT)
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_2_4)
                        .build()));
        assertEquals(
                List.of("pattern 2:4 fixes the sparsity at 0.5, got --sparsity 0.7 (give 0.5 or leave it 0)"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setSparsity(0.7)
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_2_4)
                        .build()));
        assertEquals(
                List.of(
                        "--calib self (data-free calibration) is available for the structured methods (wanda-sp, flap, goa), not for"
                                + " wanda; give a text file"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setCalibration("self")
                        .build()));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> JobSpecs.validate(
                        spec(PruneMethod.PRUNE_METHOD_WANDA).clearPattern().build()));
        assertEquals("invalid job spec: pattern must be one of unstructured, 2:4, 4:8, got none", e.getMessage());
    }

    @Test
    void goaScoreAndHeadGraphAreRefusedElsewhereAndOutOfRange() {
        assertEquals(
                List.of(
                        "structured.score (--method-option score) applies to goa only, not to flap",
                        "structured.head_graph (--method-option head_graph) applies to goa only, not to flap"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_FLAP)
                        .setStructured(StructuredSettings.newBuilder()
                                .setScore(StructuredSettings.Score.SCORE_L1)
                                .setHeadGraph(StructuredSettings.HeadGraph.HEAD_GRAPH_THRESHOLD))
                        .build()));
        assertEquals(
                List.of(
                        "structured.score must be depth2, depth2-swiglu, depth1, l1, l2 or random, got value 99",
                        "structured.head_graph must be greedy or threshold, got value 77"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_GOA)
                        .setStructured(StructuredSettings.newBuilder()
                                .setScoreValue(99)
                                .setHeadGraphValue(77))
                        .build()));
        assertEquals(
                List.of(
                        "structured.head_graph=threshold needs heads=group (query heads are pruned the same number per"
                                + " group), got heads=query",
                        "structured.head_graph=threshold stops at head_threshold, not tau: leave tau unset, got 0.1",
                        "structured.head_threshold must be a Jensen–Shannon divergence in (0, ln 2 = 0.693], got 0.7"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_GOA)
                        .setStructured(StructuredSettings.newBuilder()
                                .setHeadGraph(StructuredSettings.HeadGraph.HEAD_GRAPH_THRESHOLD)
                                .setHeads(StructuredSettings.AttentionUnit.ATTENTION_UNIT_QUERY)
                                .setTau(0.1)
                                .setHeadThreshold(0.7))
                        .build()));
        assertEquals(
                List.of(
                        "structured.head_threshold (--method-option head_threshold) applies to head_graph=threshold"
                                + " only, got 0.0 with the greedy head graph",
                        "structured.head_threshold must be a Jensen–Shannon divergence in (0, ln 2 = 0.693], got 0.0"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_GOA)
                        .setStructured(StructuredSettings.newBuilder().setHeadThreshold(0))
                        .build()));
        assertEquals(
                List.of(),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_GOA)
                        .setStructured(StructuredSettings.newBuilder()
                                .setScore(StructuredSettings.Score.SCORE_DEPTH2_SWIGLU)
                                .setHeadGraph(StructuredSettings.HeadGraph.HEAD_GRAPH_THRESHOLD)
                                .setHeadThreshold(0.2))
                        .build()));
    }

    @Test
    void devicesAndPatternsReadTheCommandLineSpelling() {
        assertEquals(List.of(Device.newBuilder().setKind(Device.Kind.KIND_CPU).build()), JobSpecs.devicesOf("cpu"));
        assertEquals(
                List.of(Device.newBuilder()
                        .setKind(Device.Kind.KIND_CPU)
                        .setCpuShares(3)
                        .build()),
                JobSpecs.devicesOf("cpu:3"));
        assertEquals(
                List.of(
                        Device.newBuilder()
                                .setKind(Device.Kind.KIND_CUDA)
                                .setIndex(0)
                                .build(),
                        Device.newBuilder()
                                .setKind(Device.Kind.KIND_CUDA)
                                .setIndex(1)
                                .build()),
                JobSpecs.devicesOf("cuda:0,cuda:1"));
        for (String text : List.of("cpu", "cpu:3", "cuda:0,cuda:1")) {
            assertEquals(text, JobSpecs.devicesLabel(JobSpecs.devicesOf(text)));
        }
        assertEquals(
                "--devices cpu:N needs N between 1 and 64, got \"cpu:0\"",
                assertThrows(IllegalArgumentException.class, () -> JobSpecs.devicesOf("cpu:0"))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> JobSpecs.devicesOf("tpu"));
        for (String empty : new String[] {"", "  ", "cpu,", ",cuda:0"}) {
            String m = assertThrows(IllegalArgumentException.class, () -> JobSpecs.devicesOf(empty))
                    .getMessage();
            assertTrue(m.contains("--devices") && m.contains("cpu, cpu:N") && m.contains("cuda:0,cuda:1"), m);
        }
        assertEquals(List.of("unstructured", "2:4", "4:8"), JobSpecs.patternNames());
        assertEquals(SparsityPattern.SPARSITY_PATTERN_4_8, JobSpecs.patternOf("4:8"));
        assertEquals(
                "pattern must be one of unstructured, 2:4, 4:8, got '3:4'",
                assertThrows(IllegalArgumentException.class, () -> JobSpecs.patternOf("3:4"))
                        .getMessage());
    }

    private static JobSpec owl(UnstructuredSettings.Builder u) {
        return spec(PruneMethod.PRUNE_METHOD_WANDA)
                .setUnstructured(u.setLayerSparsity(UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_OWL))
                .build();
    }

    @Test
    void owlSettingsAreAcceptedWithinRange() {
        assertEquals(List.of(), JobSpecs.problems(owl(UnstructuredSettings.newBuilder())));
        assertEquals(
                List.of(),
                JobSpecs.problems(
                        owl(UnstructuredSettings.newBuilder().setOwlM(3).setOwlLambda(0))));
    }

    @Test
    void badOwlSettingsAreRefusedByName() {
        assertEquals(
                List.of("unstructured.layer_sparsity must be uniform or owl, got value 7"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setUnstructured(UnstructuredSettings.newBuilder().setLayerSparsityValue(7))
                        .build()));
        assertEquals(
                List.of("unstructured.owl_m must be finite and > 0, got 0.0"),
                JobSpecs.problems(owl(UnstructuredSettings.newBuilder().setOwlM(0))));
        assertEquals(
                List.of("unstructured.owl_m must be finite and > 0, got -1.0"),
                JobSpecs.problems(owl(UnstructuredSettings.newBuilder().setOwlM(-1))));
        assertEquals(
                List.of("unstructured.owl_lambda must be finite and ≥ 0, got -0.1"),
                JobSpecs.problems(owl(UnstructuredSettings.newBuilder().setOwlLambda(-0.1))));
        assertEquals(
                List.of("unstructured.owl_lambda 0.3 is too large for sparsity 0.5: OWL's layer rates lie within"
                        + " sparsity ± 2λ, which must stay in [0, 1)"),
                JobSpecs.problems(owl(UnstructuredSettings.newBuilder().setOwlLambda(0.3))));
        assertEquals(
                List.of("unstructured.owl_lambda 0.08 is too large for sparsity 0.9: OWL's layer rates lie within"
                        + " sparsity ± 2λ, which must stay in [0, 1)"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setSparsity(0.9)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setLayerSparsity(UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_OWL))
                        .build()));
        assertEquals(
                List.of("unstructured.layer_sparsity=owl needs the unstructured pattern, got 2:4"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setSparsity(0)
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_2_4)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setLayerSparsity(UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_OWL))
                        .build()));
        assertEquals(
                List.of("unstructured.owl_m and owl_lambda apply only with layer_sparsity=owl"),
                JobSpecs.problems(spec(PruneMethod.PRUNE_METHOD_WANDA)
                        .setUnstructured(UnstructuredSettings.newBuilder().setOwlM(5))
                        .build()));
    }
}
