package dev.espalier.engine.job;

import dev.espalier.engine.io.OutputFolder;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.Progress;
import dev.espalier.protocol.v1.RecipeStage;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.StageReport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A recipe ({@code JobSpec.next_stages}): the spec's own method, then each further stage on the model the previous
 * stage exported, e.g. GOA removing 20 % of the units and then ALPS 2:4 on the compact model. Every stage is an
 * ordinary job of its own ({@link #stageSpec}) with its own run directory inside the recipe's
 * ({@code stage-<k>.run}) and its export in {@code stage-<k>/model} there (the last stage's at the recipe's output), so
 * each stage resumes exactly as a one-method job does; a stage whose report and export are already there is not run
 * again. A recipe resumed after a kill therefore ends with the same bytes as one never interrupted.
 *
 * <p>The recipe's report is committed when the last stage ends: the dense model's perplexities before, the last stage's
 * after, each stage's in {@code stages}, and the achieved sparsity of the original model's prunable parameters,
 * 1 − Π(1 − s_k) (a stage's sparsity is of its own input, so the fractions kept multiply). Each stage evaluates its
 * input and its output: the evaluation between two stages runs twice.
 */
public final class RecipeJob implements JobExecutor {
    private final JobExecutors executors;

    RecipeJob(JobExecutors executors) {
        this.executors = executors;
    }

    /** Stages in {@code spec}: its own method and the next ones. */
    public static int stageCount(JobSpec spec) {
        return 1 + spec.getNextStagesCount();
    }

    /** Run directory of stage {@code stage} (from 0) inside the recipe's run directory {@code runDir}. */
    static Path stageRunDir(Path runDir, int stage) {
        return runDir.resolve("stage-" + (stage + 1) + ".run");
    }

    /**
     * The one-method job of stage {@code stage} (from 0) of the recipe {@code spec} run in {@code runDir}: the spec
     * without its next stages, with the stage's method, target and settings, reading the previous stage's export and
     * writing its own inside {@code runDir} (the last stage: the recipe's output).
     */
    public static JobSpec stageSpec(JobSpec spec, int stage, Path runDir) {
        int n = stageCount(spec);
        if (stage < 0 || stage >= n) {
            throw new IllegalArgumentException("stage " + stage + " outside the recipe's " + n + " stages");
        }
        JobSpec.Builder b = spec.toBuilder().clearNextStages();
        if (stage > 0) {
            withStage(b, spec.getNextStages(stage - 1));
            b.setModel(stageOutput(runDir, stage - 1).toString()).setTokenizer(""); // the export carries its tokenizer
        }
        if (stage < n - 1) {
            b.setOutput(stageOutput(runDir, stage).toString()).setOverwriteOutput(false);
        }
        return b.build();
    }

    /** Sets {@code spec}'s method, sparsity, pattern and settings to {@code stage}'s; returns {@code spec}. */
    public static JobSpec.Builder withStage(JobSpec.Builder spec, RecipeStage stage) {
        spec.setMethod(stage.getMethod())
                .setSparsity(stage.getSparsity())
                .setPattern(stage.getPattern())
                .clearSettings();
        switch (stage.getSettingsCase()) {
            case UNSTRUCTURED -> spec.setUnstructured(stage.getUnstructured());
            case STRUCTURED -> spec.setStructured(stage.getStructured());
            case POLICY_GRADIENT -> spec.setPolicyGradient(stage.getPolicyGradient());
            case SETTINGS_NOT_SET -> {}
        }
        return spec;
    }

    /** {@code spec}'s method, sparsity, pattern and settings as a stage. */
    public static RecipeStage stageOf(JobSpec spec) {
        RecipeStage.Builder b = RecipeStage.newBuilder()
                .setMethod(spec.getMethod())
                .setSparsity(spec.getSparsity())
                .setPattern(spec.getPattern());
        switch (spec.getSettingsCase()) {
            case UNSTRUCTURED -> b.setUnstructured(spec.getUnstructured());
            case STRUCTURED -> b.setStructured(spec.getStructured());
            case POLICY_GRADIENT -> b.setPolicyGradient(spec.getPolicyGradient());
            case SETTINGS_NOT_SET -> {}
        }
        return b.build();
    }

    private static Path stageOutput(Path runDir, int stage) {
        return runDir.resolve("stage-" + (stage + 1)).resolve("model");
    }

    /** "goa 0.2" or "alps 2:4": a stage of a recipe as the CLI writes it. */
    public static String label(JobSpec stage) {
        String target = stage.getPattern() == SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED
                ? String.format(Locale.ROOT, "%s", stage.getSparsity())
                : JobSpecs.patternLabel(stage.getPattern());
        return PruneMethods.label(stage.getMethod()) + " " + target;
    }

    @Override
    public void run(JobSpec spec, RunDirectory run, EventSink events, CancellationToken cancel) throws Exception {
        int n = stageCount(spec);
        List<RunReport> reports = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            cancel.throwIfCancelled();
            JobSpec stage = stageSpec(spec, k, run.dir());
            // the last stage writes the recipe's output, so it carries the recipe's job id (the output's marker)
            String jobId = k == n - 1 ? run.jobId() : run.jobId() + "-stage-" + (k + 1);
            try (RunDirectory stageRun = RunDirectory.openOrCreate(stageRunDir(run.dir(), k), jobId, stage)) {
                boolean done = stageRun.report().isPresent()
                        && OutputFolder.marker(Path.of(stage.getOutput()))
                                .filter(m -> m.jobId().equals(jobId))
                                .isPresent();
                events.emit(JobEvent.newBuilder()
                        .setProgress(Progress.newBuilder()
                                .setStage(String.format(
                                        Locale.ROOT,
                                        "recipe stage %d/%d: %s%s",
                                        k + 1,
                                        n,
                                        label(stage),
                                        done ? " (done earlier)" : ""))
                                .setDone(k)
                                .setTotal(n)));
                if (!done) {
                    executors.forSpec(stage).run(stage, stageRun, events, cancel);
                }
                reports.add(stageRun.report()
                        .orElseThrow(() -> new IllegalStateException(
                                stageRun.dir() + ": stage " + label(stage) + " ended without a report")));
            }
        }
        run.commitReport(report(spec, run.jobId(), reports));
    }

    /** The recipe's report from its stages' reports, in order. */
    static RunReport report(JobSpec spec, String jobId, List<RunReport> stages) {
        RunReport first = stages.getFirst();
        RunReport last = stages.getLast();
        RunReport.Builder r = last.toBuilder()
                .setJobId(jobId)
                .setSpec(spec)
                .clearPerplexitiesBefore()
                .addAllPerplexitiesBefore(first.getPerplexitiesBeforeList())
                .clearTasksBefore()
                .addAllTasksBefore(first.getTasksBeforeList())
                .clearStages();
        double kept = 1;
        double calibration = 0;
        double prune = 0;
        double eval = 0;
        double total = 0;
        for (int k = 0; k < stages.size(); k++) {
            RunReport s = stages.get(k);
            kept *= 1 - s.getAchievedSparsity();
            calibration += s.getCalibrationSeconds();
            prune += s.getPruneSeconds();
            eval += s.getEvalSeconds();
            total += s.getTotalSeconds();
            r.addStages(StageReport.newBuilder()
                    .setStage(k + 1)
                    .setMethod(s.getSpec().getMethod())
                    .setSparsity(s.getSpec().getSparsity())
                    .setPattern(s.getSpec().getPattern())
                    .setAchievedSparsity(s.getAchievedSparsity())
                    .addAllPerplexitiesAfter(s.getPerplexitiesAfterList())
                    .setOutput(s.getSpec().getOutput())
                    .setTotalSeconds(s.getTotalSeconds()));
        }
        return r.setAchievedSparsity(1 - kept)
                .setCalibrationSeconds(calibration)
                .setPruneSeconds(prune)
                .setEvalSeconds(eval)
                .setTotalSeconds(total)
                .build();
    }
}
