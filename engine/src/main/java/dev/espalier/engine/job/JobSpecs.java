package dev.espalier.engine.job;

import dev.espalier.engine.data.TextRange;
import dev.espalier.engine.eval.zeroshot.ZeroShotTask;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.prune.OwlAllocation;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.kernels.DType;
import dev.espalier.protocol.v1.AlpsSettings;
import dev.espalier.protocol.v1.Device;
import dev.espalier.protocol.v1.ExportDType;
import dev.espalier.protocol.v1.ExportForm;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PerplexityProtocol;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RuntimeSettings;
import dev.espalier.protocol.v1.SparseGptSettings;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.StructuredSettings;
import dev.espalier.protocol.v1.TaskFile;
import dev.espalier.protocol.v1.UnstructuredSettings;
import dev.espalier.protocol.v1.ZeroShotSettings;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The one validation of a {@link JobSpec}: everything that can be checked without reading a file (paths absolute,
 * method, sparsity, pattern against method and sparsity, calibration, devices, the settings' family against the method
 * and every setting's range). The CLI ({@code prune}, {@code submit}), the node's submit and the executors' own
 * {@code validate} (which only add the checks that read files) all call it. Also the names of the spec's values as
 * the command line spells them ({@link #methodOf}, {@link #patternOf}, {@link #devicesOf}).
 */
public final class JobSpecs {
    /** The calibration value that asks for data-free calibration on text the model generates. */
    public static final String SELF_CALIBRATION = "self";
    /** The spellings {@link #devicesOf} accepts, for error messages. */
    static final String DEVICE_FORMS = "cpu, cpu:N (N in 1..64, e.g. cpu:2), cuda (every GPU) or cuda:0,cuda:1,...";

    private JobSpecs() {}

    /** The family of settings a method reads. */
    public enum Family {
        UNSTRUCTURED,
        STRUCTURED,
        POLICY_GRADIENT
    }

    /** The family of {@code method}'s settings (null for UNSPECIFIED / UNRECOGNIZED). */
    public static Family familyOf(PruneMethod method) {
        return switch (method) {
            case PRUNE_METHOD_MAGNITUDE, PRUNE_METHOD_WANDA, PRUNE_METHOD_SPARSEGPT, PRUNE_METHOD_ALPS ->
                Family.UNSTRUCTURED;
            case PRUNE_METHOD_WANDA_SP, PRUNE_METHOD_FLAP, PRUNE_METHOD_GOA -> Family.STRUCTURED;
            case PRUNE_METHOD_POLICY_GRADIENT -> Family.POLICY_GRADIENT;
            default -> null;
        };
    }

    /** The problems of {@code spec}, one line each (empty when it may be queued). Paths must be absolute. */
    public static List<String> problems(JobSpec spec) {
        List<String> problems = new ArrayList<>();
        requirePath(problems, "model", spec.getModel(), true);
        requirePath(problems, "tokenizer", spec.getTokenizer(), false);
        requirePath(problems, "output", spec.getOutput(), true);
        if (!spec.getCalibration().equals(SELF_CALIBRATION)) {
            requirePath(problems, "calibration", spec.getCalibration(), false);
        }
        spec.getEvalDataList().forEach(file -> requirePath(problems, "eval_data", file, true));
        Family family = familyOf(spec.getMethod());
        String method = family == null ? "" : PruneMethods.label(spec.getMethod());
        if (family == null) {
            problems.add("method is required (one of " + String.join(", ", methodNames()) + ")");
        }
        boolean sparsityOk = spec.getSparsity() >= 0 && spec.getSparsity() < 1;
        if (!sparsityOk) {
            problems.add("sparsity must be in [0, 1), got " + spec.getSparsity());
        }
        if (spec.getPattern() == SparsityPattern.SPARSITY_PATTERN_UNSPECIFIED
                || spec.getPattern() == SparsityPattern.UNRECOGNIZED) {
            problems.add("pattern must be one of " + String.join(", ", patternNames()) + ", got "
                    + (spec.getPattern() == SparsityPattern.UNRECOGNIZED ? spec.getPatternValue() : "none"));
        } else if (family != null
                && family != Family.UNSTRUCTURED
                && spec.getPattern() != SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED) {
            problems.add("--pattern " + patternLabel(spec.getPattern()) + " does not apply to " + method + ": "
                    + (family == Family.STRUCTURED
                            ? "structured methods remove whole heads and channels (--sparsity is the fraction of"
                                    + " prunable parameters)"
                            : "it removes whole key/value groups and FFN channels"));
        } else if (family == Family.UNSTRUCTURED && sparsityOk) {
            int[] nm = nm(spec.getPattern());
            if (nm != null) {
                double implied = 1.0 - (double) nm[0] / nm[1];
                if (spec.getSparsity() != 0 && Math.abs(spec.getSparsity() - implied) > 1e-9) {
                    problems.add("pattern " + patternLabel(spec.getPattern()) + " fixes the sparsity at " + implied
                            + ", got --sparsity " + spec.getSparsity() + " (give " + implied + " or leave it 0)");
                }
            } else if (spec.getSparsity() == 0) {
                problems.add("sparsity must be in (0, 1) for unstructured " + method + ", got 0");
            }
        }
        calibration(problems, spec, family, method);
        ranges(problems, spec);
        if (spec.getCalibrationSeqlen() < 0) {
            problems.add("calibration_seqlen must be ≥ 0 (0: the model's context length), got "
                    + spec.getCalibrationSeqlen());
        }
        if (spec.getExportDtype() == ExportDType.UNRECOGNIZED) {
            problems.add("export_dtype " + spec.getExportDtypeValue() + " is not a known dtype (auto, f32, bf16, f16)");
        }
        if (spec.getMaxShardBytes() < 0) {
            problems.add("max_shard_bytes (--max-shard-size) must be ≥ 0 (0: 5 GB), got " + spec.getMaxShardBytes());
        }
        String seqlenProblem = EvalProtocols.fromProto(spec.getEvalProtocol()).seqlenProblem(spec.getEvalSeqlen());
        if (seqlenProblem != null) {
            problems.add("eval_seqlen (--eval-seqlen): " + seqlenProblem);
        }
        if (spec.getEvalMaxTokens() < 0) {
            problems.add("eval_max_tokens must be ≥ 0 (0: all), got " + spec.getEvalMaxTokens());
        }
        if (spec.getEvalProtocol() == PerplexityProtocol.UNRECOGNIZED) {
            problems.add(
                    "eval_protocol is not one of stream, seq128, full (value " + spec.getEvalProtocolValue() + ")");
        }
        devices(problems, spec.getDevicesList());
        zeroShot(problems, spec.getZeroShot());
        runtime(problems, spec.getRuntime());
        pipelineAcrossNodes(problems, spec);
        settings(problems, spec, family, method);
        for (int k = 1; k < RecipeJob.stageCount(spec); k++) {
            String prefix = "next_stages[" + (k - 1) + "] (recipe stage " + (k + 1) + "): ";
            JobSpec stage = RecipeJob.stageSpec(spec, k, java.nio.file.Path.of("/recipe"));
            for (String problem : problems(stage)) {
                problems.add(prefix + problem);
            }
        }
        return problems;
    }

    /** Throws IllegalArgumentException listing {@link #problems} when there are any. */
    public static void validate(JobSpec spec) {
        List<String> problems = problems(spec);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid job spec: " + String.join("; ", problems));
        }
    }

    private static void calibration(List<String> problems, JobSpec spec, Family family, String method) {
        if (family == null) {
            return;
        }
        if (spec.getCalibration().isEmpty()) {
            problems.add(
                    family == Family.POLICY_GRADIENT
                            ? "calibration is required (--calib <file>): policy-gradient scores masks by the loss on calibration text"
                            : "calibration is required (--calib): " + method
                                    + " runs the calibration text through the model (plain text,"
                                    + " or JSON lines with a \"text\" field)");
        } else if (spec.getCalibration().equals(SELF_CALIBRATION) && family != Family.STRUCTURED) {
            problems.add(
                    family == Family.POLICY_GRADIENT
                            ? "--calib self does not apply to policy-gradient: it scores masks by the loss on calibration text; give a text file"
                            : "--calib self (data-free calibration) is available for the structured methods (wanda-sp, flap, goa), not for "
                                    + method + "; give a text file");
        }
        if (spec.getCalibrationSamples() < 1) {
            problems.add("calibration_samples (--calib-samples) must be ≥ 1, got " + spec.getCalibrationSamples());
        }
    }

    /**
     * The ranges' syntax and that each has a file to select from; whether a range fits its file (within it, at least
     * one line) is checked when the file is read ({@link JobExecutors#validate}, before any work).
     */
    private static void ranges(List<String> problems, JobSpec spec) {
        if (!spec.getCalibrationRange().isEmpty()) {
            range(problems, JobInputs.CALIBRATION_RANGE_OPTION, spec.getCalibrationRange());
            if (spec.getCalibration().isEmpty() || spec.getCalibration().equals(SELF_CALIBRATION)) {
                problems.add(JobInputs.CALIBRATION_RANGE_OPTION + " '" + spec.getCalibrationRange()
                        + "' needs a calibration text file (--calib <file>), got "
                        + (spec.getCalibration().isEmpty() ? "none" : "--calib self"));
            }
        }
        if (!spec.getEvalRange().isEmpty()) {
            range(problems, JobInputs.EVAL_RANGE_OPTION, spec.getEvalRange());
            if (spec.getEvalDataCount() == 0) {
                problems.add(JobInputs.EVAL_RANGE_OPTION + " '" + spec.getEvalRange()
                        + "' needs evaluation text (--eval-data <file>), got none");
            }
        }
    }

    private static void range(List<String> problems, String option, String value) {
        try {
            TextRange.parse(option, value);
        } catch (IllegalArgumentException e) {
            problems.add(e.getMessage());
        }
    }

    private static void devices(List<String> problems, List<Device> devices) {
        int cpus = 0;
        int cudas = 0;
        Set<Integer> ordinals = new HashSet<>();
        for (int i = 0; i < devices.size(); i++) {
            Device d = devices.get(i);
            String name = "devices[" + i + "]";
            switch (d.getKind()) {
                case KIND_CPU -> {
                    cpus++;
                    if (d.getIndex() != 0) {
                        problems.add(name + ".index must be 0 for a CPU, got " + d.getIndex());
                    }
                    if (d.hasCpuShares() && (d.getCpuShares() < 1 || d.getCpuShares() > 64)) {
                        problems.add(name + ".cpu_shares (cpu:N) must be in [1, 64], got " + d.getCpuShares());
                    }
                }
                case KIND_CUDA -> {
                    cudas++;
                    boolean all = d.getIndex() == DeviceSpec.ALL_GPUS && devices.size() == 1;
                    if (!all && (d.getIndex() < 0 || !ordinals.add(d.getIndex()))) {
                        problems.add(name + ".index must be a distinct CUDA ordinal ≥ 0 (or -1 alone: every GPU), got "
                                + d.getIndex());
                    }
                    if (d.hasCpuShares()) {
                        problems.add(name + ".cpu_shares applies to CPU devices only");
                    }
                }
                default -> problems.add(name + ".kind must be CPU or CUDA");
            }
        }
        if (cpus > 1) {
            problems.add("devices may name the CPU once (cpu or cpu:N), got " + cpus + " CPU entries");
        }
        if (cpus > 0 && cudas > 0) {
            problems.add("devices may not mix the CPU and CUDA devices");
        }
    }

    private static void zeroShot(List<String> problems, ZeroShotSettings z) {
        for (String task : z.getTasksList()) {
            if (ZeroShotTask.byLabel(task) == null) {
                problems.add("zero_shot.tasks: unknown task '" + task + "' (one of "
                        + String.join(
                                ", ",
                                Arrays.stream(ZeroShotTask.values())
                                        .map(ZeroShotTask::label)
                                        .toList())
                        + ")");
            }
        }
        requirePath(problems, "zero_shot.task_data", z.getTaskData(), false);
        Set<String> names = new HashSet<>(z.getTasksList());
        for (TaskFile file : z.getTaskFilesList()) {
            if (file.getName().isBlank() || !names.add(file.getName())) {
                problems.add("zero_shot.task_files: each task needs a name of its own, got '" + file.getName() + "'");
            }
            requirePath(problems, "zero_shot.task_files[" + file.getName() + "]", file.getPath(), true);
        }
        if (z.getLimit() < 0 || z.getBatchSize() < 0) {
            problems.add(
                    z.getLimit() < 0
                            ? "zero_shot.limit (--limit) must be ≥ 0 (0: all items), got " + z.getLimit()
                            : "zero_shot.batch_size (--batch-size) must be ≥ 0 (0: 8), got " + z.getBatchSize());
        }
    }

    private static void runtime(List<String> problems, RuntimeSettings r) {
        if (r.hasWindow() && r.getWindow() < 1) {
            problems.add("runtime.window must be ≥ 1, got " + r.getWindow());
        }
        if (r.hasMaxRestarts() && r.getMaxRestarts() < 0) {
            problems.add("runtime.max_restarts must be ≥ 0, got " + r.getMaxRestarts());
        }
        if (r.hasPipelineNodes() && (r.getPipelineNodes() < 1 || r.getPipelineNodes() > 16)) {
            problems.add("runtime.pipeline_nodes must be in [1, 16], got " + r.getPipelineNodes());
        }
        if (r.getDebugFailCall() < 0) {
            problems.add("runtime.debug_fail_call must be ≥ 0 (0: never), got " + r.getDebugFailCall());
        }
    }

    /** A pipeline over several nodes needs a layer-wise method: rollouts and global allocation gather on one node. */
    private static void pipelineAcrossNodes(List<String> problems, JobSpec spec) {
        if (JobInputs.pipelineNodes(spec) <= 1) {
            return;
        }
        String prefix = "runtime.pipeline_nodes is " + JobInputs.pipelineNodes(spec) + ": ";
        if (spec.getMethod() == PruneMethod.PRUNE_METHOD_POLICY_GRADIENT) {
            problems.add(prefix + "policy-gradient rollouts run on the job's own node; leave it at 1");
            return;
        }
        boolean global;
        try {
            global = PruneMethods.layerMethod(spec, JobInputs.selfCalibration(spec), null)
                    .scoresGlobally();
        } catch (RuntimeException badSettings) { // reported by the method's own checks
            return;
        }
        if (global) {
            problems.add(prefix + PruneMethods.label(spec.getMethod()) + " with these settings allocates widths over"
                    + " every layer's scores, which one node gathers; set it to 1, or choose per-layer widths"
                    + " (--method-option allocation=uniform)");
        }
    }

    private static void settings(List<String> problems, JobSpec spec, Family family, String method) {
        if (family == null) {
            return;
        }
        Family given = switch (spec.getSettingsCase()) {
            case UNSTRUCTURED -> Family.UNSTRUCTURED;
            case STRUCTURED -> Family.STRUCTURED;
            case POLICY_GRADIENT -> Family.POLICY_GRADIENT;
            case SETTINGS_NOT_SET -> family;
        };
        if (given != family) {
            problems.add(given.name().toLowerCase(Locale.ROOT) + " settings do not apply to " + method
                    + ", which takes " + family.name().toLowerCase(Locale.ROOT) + " settings");
            return;
        }
        switch (family) {
            case UNSTRUCTURED -> unstructured(problems, spec.getUnstructured(), spec, method);
            case STRUCTURED -> structured(problems, spec.getStructured(), spec.getMethod(), method);
            case POLICY_GRADIENT -> policyGradient(problems, spec.getPolicyGradient());
        }
    }

    private static void unstructured(List<String> problems, UnstructuredSettings u, JobSpec spec, String method) {
        if (u.getSolveOrder() == UnstructuredSettings.SolveOrder.UNRECOGNIZED) {
            problems.add("unstructured.solve_order must be shared or sequential, got value " + u.getSolveOrderValue());
        }
        layerSparsity(problems, u, spec);
        switch (u.getSolverCase()) {
            case SPARSEGPT -> {
                if (spec.getMethod() != PruneMethod.PRUNE_METHOD_SPARSEGPT) {
                    problems.add(
                            "unstructured.sparsegpt settings (blocksize, percdamp) apply to sparsegpt only, not to "
                                    + method);
                    return;
                }
                SparseGptSettings s = u.getSparsegpt();
                if (s.hasBlocksize()) {
                    int[] nm = nm(spec.getPattern());
                    if (s.getBlocksize() < 1) {
                        problems.add("unstructured.sparsegpt.blocksize must be ≥ 1, got " + s.getBlocksize());
                    } else if (nm != null && s.getBlocksize() % nm[1] != 0) {
                        problems.add("unstructured.sparsegpt.blocksize must be a multiple of " + nm[1] + " for pattern "
                                + patternLabel(spec.getPattern()) + ", got " + s.getBlocksize());
                    }
                }
                if (s.hasPercdamp()) {
                    atLeast(problems, "unstructured.sparsegpt.percdamp", s.getPercdamp(), 0);
                }
            }
            case ALPS -> {
                if (spec.getMethod() != PruneMethod.PRUNE_METHOD_ALPS) {
                    problems.add("unstructured.alps settings apply to alps only, not to " + method);
                    return;
                }
                AlpsSettings a = u.getAlps();
                String p = "unstructured.alps.";
                if (a.hasRho()) {
                    positive(problems, p + "rho", a.getRho());
                }
                if (a.hasIterations() && a.getIterations() < 1) {
                    problems.add(p + "iterations must be ≥ 1, got " + a.getIterations());
                }
                if (a.hasUpdateInterval() && a.getUpdateInterval() < 1) {
                    problems.add(p + "update_interval must be ≥ 1, got " + a.getUpdateInterval());
                }
                if (a.hasSwitchIteration() && a.getSwitchIteration() < 0) {
                    problems.add(p + "switch_iteration must be ≥ 0, got " + a.getSwitchIteration());
                }
                if (a.hasStopRho()) {
                    atLeast(problems, p + "stop_rho", a.getStopRho(), 0);
                }
                if (a.hasCgIterations() && a.getCgIterations() < 0) {
                    problems.add(p + "cg_iterations must be ≥ 0, got " + a.getCgIterations());
                }
                if (a.hasCgTolerance()) {
                    positive(problems, p + "cg_tolerance", a.getCgTolerance());
                }
                if (a.hasDamp()) {
                    atLeast(problems, p + "damp", a.getDamp(), 0);
                }
                if (a.hasFixedRho()) {
                    positive(problems, p + "fixed_rho", a.getFixedRho());
                }
            }
            case SOLVER_NOT_SET -> {}
        }
    }

    private static void structured(List<String> problems, StructuredSettings s, PruneMethod m, String method) {
        if (s.getAllocation() == StructuredSettings.Allocation.UNRECOGNIZED) {
            problems.add("structured.allocation must be uniform or global, got value " + s.getAllocationValue());
        }
        if (s.getHeads() == StructuredSettings.AttentionUnit.UNRECOGNIZED) {
            problems.add("structured.heads must be group or query, got value " + s.getHeadsValue());
        }
        if (s.getExport() == ExportForm.UNRECOGNIZED) {
            problems.add("structured.export must be compact or masked-dense, got value " + s.getExportValue());
        }
        if (m != PruneMethod.PRUNE_METHOD_GOA && s.hasTau()) {
            problems.add("structured.tau (--method-option tau) applies to goa only, not to " + method);
        }
        if (s.getScore() == StructuredSettings.Score.UNRECOGNIZED) {
            problems.add("structured.score must be depth2, depth2-swiglu, depth1, l1, l2 or random, got value "
                    + s.getScoreValue());
        } else if (m != PruneMethod.PRUNE_METHOD_GOA && s.getScore() != StructuredSettings.Score.SCORE_UNSPECIFIED) {
            problems.add("structured.score (--method-option score) applies to goa only, not to " + method);
        }
        if (s.getHeadGraph() == StructuredSettings.HeadGraph.UNRECOGNIZED) {
            problems.add("structured.head_graph must be greedy or threshold, got value " + s.getHeadGraphValue());
        } else if (s.getHeadGraph() == StructuredSettings.HeadGraph.HEAD_GRAPH_THRESHOLD) {
            if (m != PruneMethod.PRUNE_METHOD_GOA) {
                problems.add(
                        "structured.head_graph (--method-option head_graph) applies to goa only, not to " + method);
            }
            if (s.getHeads() == StructuredSettings.AttentionUnit.ATTENTION_UNIT_QUERY) {
                problems.add("structured.head_graph=threshold needs heads=group (query heads are pruned the same number"
                        + " per group), got heads=query");
            }
            if (s.hasTau()) {
                problems.add("structured.head_graph=threshold stops at head_threshold, not tau: leave tau unset, got "
                        + s.getTau());
            }
        }
        if (s.hasHeadThreshold()) {
            if (s.getHeadGraph() != StructuredSettings.HeadGraph.HEAD_GRAPH_THRESHOLD) {
                problems.add(
                        "structured.head_threshold (--method-option head_threshold) applies to head_graph=threshold"
                                + " only, got " + s.getHeadThreshold() + " with the greedy head graph");
            }
            double t = s.getHeadThreshold();
            if (!(t > 0 && t <= Math.log(2))) {
                problems.add(
                        "structured.head_threshold must be a Jensen–Shannon divergence in (0, ln 2 = 0.693], got " + t);
            }
        }
        if (s.hasRidge()) {
            positive(problems, "structured.ridge", s.getRidge());
        }
        if (s.hasTau()) {
            atLeast(problems, "structured.tau", s.getTau(), 0);
        }
    }

    private static void policyGradient(List<String> problems, PolicyGradientSettings s) {
        String p = "policy_gradient.";
        if (s.getInit() == PolicyGradientSettings.Init.UNRECOGNIZED) {
            problems.add(p + "init must be wanda-sp, goa, random or uniform, got value " + s.getInitValue());
        }
        if (s.getScore() == PolicyGradientSettings.Score.UNRECOGNIZED) {
            problems.add(p + "score must be official or reinforce, got value " + s.getScoreValue());
        }
        if (s.hasSteps() && s.getSteps() < 1) {
            problems.add(p + "steps (--steps) must be ≥ 1, got " + s.getSteps());
        }
        if (s.hasLr()) {
            atLeast(problems, p + "lr", s.getLr(), 0);
        }
        if (s.hasRollouts() && s.getRollouts() < 2) {
            problems.add(p + "rollouts must be ≥ 2 (the gradient divides by K − 1), got " + s.getRollouts());
        }
        if (s.hasBatchSize() && s.getBatchSize() < 1) {
            problems.add(p + "batch_size must be ≥ 1, got " + s.getBatchSize());
        }
        if (s.hasRolloutsInFlight() && s.getRolloutsInFlight() < 1) {
            problems.add(p + "rollouts_in_flight (--rollouts-in-flight) must be ≥ 1, got " + s.getRolloutsInFlight());
        }
        if (s.hasCheckpointEvery() && s.getCheckpointEvery() < 1) {
            problems.add(p + "checkpoint_every must be ≥ 1, got " + s.getCheckpointEvery());
        }
        if (s.hasLayerSparsity() && !(s.getLayerSparsity() >= 0 && s.getLayerSparsity() < 1)) {
            problems.add(p + "layer_sparsity must be in [0, 1), got " + s.getLayerSparsity());
        }
        if (s.getPreset() == PolicyGradientSettings.Preset.UNRECOGNIZED) {
            problems.add(p + "preset must be espalier or paper, got value " + s.getPresetValue());
        }
        if (s.getLayerRates() == PolicyGradientSettings.LayerRates.UNRECOGNIZED) {
            problems.add(p + "layer_rates must be global or uniform, got value " + s.getLayerRatesValue());
        } else if (s.getLayerRates() == PolicyGradientSettings.LayerRates.LAYER_RATES_UNIFORM
                && s.getLayerSparsity() > 0) {
            problems.add(p + "layer_rates=uniform fixes every layer's rate; it cannot be combined with layer_sparsity "
                    + s.getLayerSparsity() + " (layer units are chosen globally)");
        }
    }

    /** OWL's settings: only with layer_sparsity=owl and an unstructured pattern; every layer rate must stay in [0, 1). */
    private static void layerSparsity(List<String> problems, UnstructuredSettings u, JobSpec spec) {
        boolean owl = u.getLayerSparsity() == UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_OWL;
        if (u.getLayerSparsity() == UnstructuredSettings.LayerSparsity.UNRECOGNIZED) {
            problems.add("unstructured.layer_sparsity must be uniform or owl, got value " + u.getLayerSparsityValue());
            return;
        }
        if (!owl) {
            if (u.hasOwlM() || u.hasOwlLambda()) {
                problems.add("unstructured.owl_m and owl_lambda apply only with layer_sparsity=owl");
            }
            return;
        }
        if (nm(spec.getPattern()) != null) {
            problems.add("unstructured.layer_sparsity=owl needs the unstructured pattern, got "
                    + patternLabel(spec.getPattern()));
        }
        if (u.hasOwlM()) {
            positive(problems, "unstructured.owl_m", u.getOwlM());
        }
        double lambda = u.hasOwlLambda() ? u.getOwlLambda() : OwlAllocation.DEFAULT_LAMBDA;
        if (u.hasOwlLambda()) {
            atLeast(problems, "unstructured.owl_lambda", lambda, 0);
        }
        double s = spec.getSparsity();
        if (lambda >= 0 && s > 0 && s < 1 && !(s - 2 * lambda >= 0 && s + 2 * lambda < 1)) {
            problems.add("unstructured.owl_lambda " + lambda + " is too large for sparsity " + s
                    + ": OWL's layer rates lie within sparsity ± 2λ, which must stay in [0, 1)");
        }
    }

    private static void positive(List<String> problems, String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            problems.add(field + " must be finite and > 0, got " + value);
        }
    }

    private static void atLeast(List<String> problems, String field, double value, double min) {
        if (!(value >= min) || Double.isInfinite(value)) {
            problems.add(field + " must be finite and ≥ " + (min == 0 ? "0" : Double.toString(min)) + ", got " + value);
        }
    }

    private static void requirePath(List<String> problems, String field, String value, boolean required) {
        if (value.isEmpty()) {
            if (required) {
                problems.add(field + " is required");
            }
        } else {
            try {
                if (!Path.of(value).isAbsolute()) {
                    problems.add(field + " must be an absolute path, got '" + value + "'");
                }
            } catch (InvalidPathException e) {
                problems.add(field + " is not a valid path (" + e.getReason() + "), got '" + printable(value) + "'");
            }
        }
    }

    /** {@code value} with control characters shown as escapes (U+0000 as backslash-u-0000), so that a problem stays one printable line. */
    private static String printable(String value) {
        StringBuilder out = new StringBuilder();
        value.codePoints()
                .forEach(c -> out.append(
                        Character.isISOControl(c) ? String.format(Locale.ROOT, "\\u%04x", c) : Character.toString(c)));
        return out.toString();
    }

    /** {N, M} of an N:M pattern; null for unstructured, UNSPECIFIED and UNRECOGNIZED. */
    public static int[] nm(SparsityPattern pattern) {
        if (pattern == SparsityPattern.UNRECOGNIZED || pattern == SparsityPattern.SPARSITY_PATTERN_UNSPECIFIED) {
            return null;
        }
        dev.espalier.engine.prune.SparsityPattern p = dev.espalier.engine.prune.SparsityPattern.of(pattern);
        return p.isNm() ? new int[] {p.keep(), p.group()} : null;
    }

    /** The method names the command line accepts, in the enum's order. */
    public static List<String> methodNames() {
        List<String> names = new ArrayList<>();
        for (PruneMethod m : PruneMethod.values()) {
            if (m != PruneMethod.UNRECOGNIZED && m != PruneMethod.PRUNE_METHOD_UNSPECIFIED) {
                names.add(PruneMethods.label(m));
            }
        }
        return names;
    }

    /** The method named {@code label} ("wanda-sp", "WANDA_SP"); IllegalArgumentException listing the names otherwise. */
    public static PruneMethod methodOf(String label) {
        String wanted = label.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (PruneMethod method : PruneMethod.values()) {
            if (method != PruneMethod.UNRECOGNIZED
                    && method != PruneMethod.PRUNE_METHOD_UNSPECIFIED
                    && PruneMethods.label(method).equals(wanted)) {
                return method;
            }
        }
        throw new IllegalArgumentException(
                "unknown method '" + label + "'; expected one of " + String.join(", ", methodNames()));
    }

    /** "2:4" for SPARSITY_PATTERN_2_4, "unstructured" for SPARSITY_PATTERN_UNSTRUCTURED (derived from the enum). */
    public static String patternLabel(SparsityPattern pattern) {
        return dev.espalier.engine.prune.SparsityPattern.label(pattern);
    }

    /** The pattern names the command line accepts ("unstructured", "2:4", "4:8"), from the enum. */
    public static List<String> patternNames() {
        List<String> names = new ArrayList<>();
        for (SparsityPattern p : SparsityPattern.values()) {
            if (p != SparsityPattern.UNRECOGNIZED && p != SparsityPattern.SPARSITY_PATTERN_UNSPECIFIED) {
                names.add(patternLabel(p));
            }
        }
        return names;
    }

    /** The pattern named {@code label} ("2:4"); IllegalArgumentException listing the names otherwise. */
    public static SparsityPattern patternOf(String label) {
        String wanted = label.trim().toLowerCase(Locale.ROOT);
        for (SparsityPattern p : SparsityPattern.values()) {
            if (p != SparsityPattern.UNRECOGNIZED
                    && p != SparsityPattern.SPARSITY_PATTERN_UNSPECIFIED
                    && patternLabel(p).equals(wanted)) {
                return p;
            }
        }
        throw new IllegalArgumentException(
                "pattern must be one of " + String.join(", ", patternNames()) + ", got '" + label + "'");
    }

    /**
     * The devices of the command line's spelling: {@code cpu} (one worker with every core), {@code cpu:N} (N workers
     * sharing every core), {@code cuda:0,cuda:1}; IllegalArgumentException naming the text and the accepted forms
     * otherwise (an empty text too).
     */
    public static List<Device> devicesOf(String text) {
        List<Device> devices = new ArrayList<>();
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        if (t.isEmpty()) {
            throw new IllegalArgumentException("--devices is empty; expected " + DEVICE_FORMS);
        }
        for (String part : t.split(",", -1)) {
            String p = part.trim();
            int colon = p.indexOf(':');
            String kind = colon < 0 ? p : p.substring(0, colon);
            Integer n = null;
            if (colon >= 0) {
                try {
                    n = Integer.parseInt(p.substring(colon + 1).trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(
                            "--devices " + text + ": '" + p + "' needs a number after the colon");
                }
            }
            switch (kind) {
                case "cpu" -> {
                    if (n != null && (n < 1 || n > 64)) {
                        throw new IllegalArgumentException(
                                "--devices cpu:N needs N between 1 and 64, got \"" + text + "\"");
                    }
                    Device.Builder d = Device.newBuilder().setKind(Device.Kind.KIND_CPU);
                    if (n != null) {
                        d.setCpuShares(n);
                    }
                    devices.add(d.build());
                }
                case "cuda" -> {
                    if (n == null && t.equals("cuda")) {
                        devices.add(Device.newBuilder()
                                .setKind(Device.Kind.KIND_CUDA)
                                .setIndex(DeviceSpec.ALL_GPUS)
                                .build());
                        continue;
                    }
                    if (n == null || n < 0) {
                        throw new IllegalArgumentException(
                                "--devices " + text + ": a CUDA device is cuda:<ordinal ≥ 0>, got '" + p + "'");
                    }
                    devices.add(Device.newBuilder()
                            .setKind(Device.Kind.KIND_CUDA)
                            .setIndex(n)
                            .build());
                }
                default ->
                    throw new IllegalArgumentException("--devices must be " + DEVICE_FORMS + ", got \"" + text + "\"");
            }
        }
        return devices;
    }

    /** The export dtype named {@code label} ("auto", "f32", "bf16", "f16"); IllegalArgumentException otherwise. */
    public static ExportDType exportDtypeOf(String label) {
        return switch (label.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> ExportDType.EXPORT_D_TYPE_UNSPECIFIED;
            case "f32", "float32" -> ExportDType.EXPORT_D_TYPE_F32;
            case "bf16", "bfloat16" -> ExportDType.EXPORT_D_TYPE_BF16;
            case "f16", "float16" -> ExportDType.EXPORT_D_TYPE_F16;
            default ->
                throw new IllegalArgumentException(
                        "unknown export dtype '" + label + "'; expected auto (the input's), f32, bf16 or f16");
        };
    }

    /** How {@code spec}'s output is written: its dtype (null: the input's) and shard size. */
    public static ModelExporter.Format exportFormat(JobSpec spec) {
        DType dtype = switch (spec.getExportDtype()) {
            case EXPORT_D_TYPE_F32 -> DType.F32;
            case EXPORT_D_TYPE_BF16 -> DType.BF16;
            case EXPORT_D_TYPE_F16 -> DType.F16;
            case EXPORT_D_TYPE_UNSPECIFIED, UNRECOGNIZED -> null;
        };
        long shard = spec.getMaxShardBytes() > 0 ? spec.getMaxShardBytes() : ModelExporter.DEFAULT_MAX_SHARD_BYTES;
        return new ModelExporter.Format(dtype, shard);
    }

    /** The command line's spelling of {@code devices} ("cpu" when empty). */
    public static String devicesLabel(List<Device> devices) {
        return DeviceSpec.label(devices);
    }
}
