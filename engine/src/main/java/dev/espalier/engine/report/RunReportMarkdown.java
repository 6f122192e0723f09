package dev.espalier.engine.report;

import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.protocol.v1.PerplexityResult;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.TaskAccuracy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * report.md: a finished run as a person reads it — the job, the sparsity it reached, perplexities and zero-shot
 * accuracies of the dense and the pruned model, what happened to each layer, time and memory, and the run's plots.
 * Everything comes from the {@link RunReport}; values that were not measured are written "-".
 */
public final class RunReportMarkdown {
    private RunReportMarkdown() {}

    /** The Markdown text; {@code plots} are image files relative to the run directory, shown at the end. */
    public static String render(RunReport report, List<String> plots) {
        StringBuilder md = new StringBuilder();
        JobSpec spec = report.getSpec();
        md.append("# Run ").append(report.getJobId()).append("\n\n");
        md.append(job(report, spec).render());
        perplexities(md, report);
        tasks(md, report);
        layers(md, report);
        md.append("\n## Time and memory\n\n");
        md.append(new MarkdownTable(List.of("calibration", "pruning", "evaluation", "total", "peak heap", "peak RSS"))
                .row(List.of(
                        ReportFormat.seconds(report.getCalibrationSeconds()),
                        ReportFormat.seconds(report.getPruneSeconds()),
                        ReportFormat.seconds(report.getEvalSeconds()),
                        ReportFormat.seconds(report.getTotalSeconds()),
                        ReportFormat.bytes(report.getPeakHeapBytes()),
                        ReportFormat.bytes(report.getPeakRssBytes())))
                .render());
        md.append("\nTensors live off the JVM heap: the peak resident set is the memory the run needed.");
        if (report.getPeakSpilledBytes() > 0) {
            md.append(" Calibration activations beyond the memory budget of "
                    + ReportFormat.bytes(report.getMemoryBudgetBytes()) + " were spilled to the run directory (peak "
                    + ReportFormat.bytes(report.getPeakSpilledBytes()) + ").");
        }
        md.append("\n");
        if (!plots.isEmpty()) {
            md.append("\n## Plots\n");
            for (String plot : plots) {
                md.append("\n![").append(plot).append("](").append(plot).append(")\n");
            }
        }
        return md.toString();
    }

    private static MarkdownTable job(RunReport report, JobSpec spec) {
        MarkdownTable t = MarkdownTable.text(List.of("job", ""));
        t.row(List.of("model", spec.getModel()));
        t.row(List.of("method", PruneMethods.label(spec.getMethod())));
        t.row(List.of("pattern", SparsityPattern.label(spec.getPattern())));
        t.row(List.of("target sparsity", ReportFormat.percent(spec.getSparsity())));
        t.row(List.of(
                "achieved sparsity",
                String.format(Locale.ROOT, "%.2f %% of the prunable weights", 100 * report.getAchievedSparsity())));
        t.row(List.of("calibration", calibration(report)));
        t.row(List.of("devices", DeviceSpec.label(spec.getDevicesList())));
        t.row(List.of("seed", Long.toString(spec.getSeed())));
        t.row(List.of("output", spec.getOutput()));
        return t;
    }

    private static String calibration(RunReport report) {
        if (report.getCalibration().isEmpty()) {
            return "none";
        }
        return String.format(
                Locale.ROOT,
                "%s%s: %d × %d tokens (%d tokens)",
                report.getCalibration(),
                report.getCalibrationRange().isEmpty() ? "" : " (range " + report.getCalibrationRange() + ")",
                report.getCalibrationSamples(),
                report.getCalibrationSeqlen(),
                report.getCalibrationTokens());
    }

    private static void perplexities(StringBuilder md, RunReport report) {
        if (report.getPerplexitiesBeforeCount() == 0 && report.getPerplexitiesAfterCount() == 0) {
            return;
        }
        md.append("\n## Perplexity\n\n");
        MarkdownTable t =
                new MarkdownTable(List.of("dataset", "protocol", "window", "tokens scored", "dense", "pruned"));
        Map<String, PerplexityResult> after = new LinkedHashMap<>();
        report.getPerplexitiesAfterList().forEach(p -> after.put(p.getDataset(), p));
        for (PerplexityResult before : report.getPerplexitiesBeforeList()) {
            PerplexityResult a = after.remove(before.getDataset());
            t.row(List.of(
                    ReportFormat.datasetLabel(before),
                    ReportFormat.protocol(before.getProtocol()),
                    Integer.toString(before.getWindow()),
                    Long.toString(before.getTokensScored()),
                    ReportFormat.perplexity(before.getPerplexity()),
                    a == null ? ReportFormat.NONE : ReportFormat.perplexity(a.getPerplexity())));
        }
        for (PerplexityResult a : after.values()) {
            t.row(List.of(
                    ReportFormat.datasetLabel(a),
                    ReportFormat.protocol(a.getProtocol()),
                    Integer.toString(a.getWindow()),
                    Long.toString(a.getTokensScored()),
                    ReportFormat.NONE,
                    ReportFormat.perplexity(a.getPerplexity())));
        }
        md.append(t.render());
    }

    private static void tasks(StringBuilder md, RunReport report) {
        if (report.getTasksBeforeCount() == 0 && report.getTasksAfterCount() == 0) {
            return;
        }
        md.append("\n## Zero-shot accuracy (%)\n\n");
        MarkdownTable t = new MarkdownTable(
                List.of("task", "items", "chance", "acc dense", "acc pruned", "acc_norm dense", "acc_norm pruned"));
        Map<String, TaskAccuracy> after = new LinkedHashMap<>();
        report.getTasksAfterList().forEach(a -> after.put(a.getTask(), a));
        List<TaskAccuracy> rows = new ArrayList<>(report.getTasksBeforeList());
        after.values().stream()
                .filter(a -> report.getTasksBeforeList().stream()
                        .noneMatch(b -> b.getTask().equals(a.getTask())))
                .forEach(rows::add);
        for (TaskAccuracy row : rows) {
            TaskAccuracy b = report.getTasksBeforeList().stream()
                    .filter(x -> x.getTask().equals(row.getTask()))
                    .findFirst()
                    .orElse(null);
            TaskAccuracy a = after.get(row.getTask());
            t.row(List.of(
                    row.getTask() + (row.getPapersReportAccNorm() ? " *" : ""),
                    Integer.toString(row.getItems()),
                    row.hasChance() ? ReportFormat.accuracy(row.getChance()) : ReportFormat.NONE,
                    b == null ? ReportFormat.NONE : ReportFormat.accuracy(b.getAcc(), b.getAccStderr()),
                    a == null ? ReportFormat.NONE : ReportFormat.accuracy(a.getAcc(), a.getAccStderr()),
                    norm(b),
                    norm(a)));
        }
        md.append(t.render());
        md.append("\nacc ± its standard error over the items; * the task's papers report acc_norm (the sum of a"
                + " choice's log-likelihood divided by its length in characters).\n");
    }

    private static String norm(TaskAccuracy t) {
        return t == null || !t.hasAccNorm()
                ? ReportFormat.NONE
                : ReportFormat.accuracy(t.getAccNorm(), t.hasAccNormStderr() ? t.getAccNormStderr() : Double.NaN);
    }

    private static void layers(StringBuilder md, RunReport report) {
        if (report.getLayersCount() == 0) {
            return;
        }
        md.append("\n## Layers\n\n");
        MarkdownTable t = new MarkdownTable(List.of(
                "layer",
                "mean matrix sparsity",
                "reconstruction error (sum over matrices)",
                "heads",
                "KV heads",
                "FFN channels",
                "checkpointed at"));
        for (LayerReport l : report.getLayersList()) {
            double sparsity = 0;
            double error = 0;
            for (MatrixReport m : l.getMatricesList()) {
                sparsity += m.getSparsity();
                error += m.getReconstructionError();
            }
            int matrices = l.getMatricesCount();
            t.row(List.of(
                    Integer.toString(l.getLayer()),
                    matrices == 0
                            ? ReportFormat.NONE
                            : String.format(Locale.ROOT, "%.2f %%", 100 * sparsity / matrices),
                    error > 0 ? String.format(Locale.ROOT, "%.4g", error) : ReportFormat.NONE,
                    Integer.toString(l.getNumHeads()),
                    Integer.toString(l.getNumKvHeads()),
                    Integer.toString(l.getIntermediateSize()),
                    ReportFormat.seconds(l.getSeconds())));
        }
        md.append(t.render());
        md.append(
                "\nReconstruction error: ||X W' - X W||² / ||X W||² on the calibration inputs, summed over the layer's"
                        + " matrices (\"-\": not measured). Checkpointed at: seconds from the start of pruning in the process"
                        + " that pruned the layer (layers overlap in the pipeline; \"-\": by an earlier, interrupted process).\n");
    }
}
