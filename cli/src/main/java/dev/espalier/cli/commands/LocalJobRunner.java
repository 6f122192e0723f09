package dev.espalier.cli.commands;

import dev.espalier.engine.io.OutputFolder;
import dev.espalier.engine.job.CancellationToken;
import dev.espalier.engine.job.EventSink;
import dev.espalier.engine.job.JobExecutors;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.protocol.v1.PerplexityResult;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.StageReport;
import dev.espalier.protocol.v1.TaskAccuracy;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Runs a job in this process (the {@code prune} and {@code resume} verbs) with a progress bar, then prints its report. */
final class LocalJobRunner {
    private LocalJobRunner() {}

    /**
     * Runs the job of {@code run} to its report (exit status 0), or until Ctrl-C / SIGTERM stops it at a safe point
     * (128 + the signal's number, with how to resume on {@code err}); at most {@code memoryBudget} bytes of activations
     * in memory, the rest spilled to the run directory.
     */
    static int run(RunDirectory run, PrintWriter out, PrintWriter err, boolean progress, long memoryBudget)
            throws Exception {
        Optional<RunReport> done = run.report();
        if (done.isPresent()
                && OutputFolder.marker(Path.of(run.spec().getOutput()))
                        .filter(m -> m.jobId().equals(run.jobId()))
                        .isPresent()) {
            out.println("run already complete");
            print(done.get(), run, out);
            return 0;
        }
        EventSink log = EventSink.of(run);
        CancellationToken cancel = new CancellationToken();
        try (RunLogFile file = RunLogFile.attach(run.dir().resolve("run.log"));
                InterruptHandler interrupts = InterruptHandler.install(cancel, run.dir(), err);
                ConsoleProgress bar = new ConsoleProgress("prune", progress)) {
            EventSink sink = event -> {
                JobEvent recorded = log.emit(event);
                if (recorded.hasProgress() && recorded.getProgress().getStage().equals("prune")) {
                    bar.progress(
                            recorded.getProgress().getDone(),
                            recorded.getProgress().getTotal());
                }
                return recorded;
            };
            try (Devices devices = Devices.start(DeviceSpec.of(run.spec().getDevicesList()), memoryBudget)) {
                JobExecutors.standard(devices).forSpec(run.spec()).run(run.spec(), run, sink, cancel);
            } catch (Exception e) { // after a signal, whatever the job ended with comes from stopping it
                if (interrupts.signal() == null) {
                    throw e;
                }
                err.printf(
                        Locale.ROOT,
                        "espalier: stopped by %s after %d completed layer(s); resume with `espalier resume %s`%n",
                        interrupts.signal(),
                        run.manifest().getCompletedLayersCount(),
                        run.dir());
                return InterruptHandler.exitCode(interrupts.signal());
            }
        }
        RunReport report = run.report()
                .orElseThrow(() -> new IllegalStateException(run.dir() + ": the job ended without a report"));
        print(report, run, out);
        return 0;
    }

    static void print(RunReport report, RunDirectory run, PrintWriter out) {
        out.printf(Locale.ROOT, "%-6s %10s  %s%n", "layer", "sparsity", "per matrix");
        for (LayerReport layer : report.getLayersList()) {
            StringBuilder matrices = new StringBuilder();
            long n = 0;
            double sum = 0;
            for (MatrixReport m : layer.getMatricesList()) {
                matrices.append(String.format(Locale.ROOT, "%s %.3f  ", m.getName(), m.getSparsity()));
                sum += m.getSparsity();
                n++;
            }
            out.printf(
                    Locale.ROOT,
                    "%-6d %10.4f  %s%n",
                    layer.getLayer(),
                    n == 0 ? 0 : sum / n,
                    matrices.toString().strip());
        }
        out.printf(Locale.ROOT, "achieved sparsity %.4f over all pruned matrices%n", report.getAchievedSparsity());
        for (StageReport stage : report.getStagesList()) {
            StringBuilder ppl = new StringBuilder();
            for (PerplexityResult p : stage.getPerplexitiesAfterList()) {
                ppl.append(ppl.isEmpty() ? ", ppl after " : " / ")
                        .append(String.format(Locale.ROOT, "%.4f", p.getPerplexity()));
            }
            out.printf(
                    Locale.ROOT,
                    "recipe stage %d %s %s: achieved sparsity %.4f of its input%s%n",
                    stage.getStage(),
                    PruneMethods.label(stage.getMethod()),
                    stage.getPattern() == SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED
                            ? String.format(Locale.ROOT, "%s", stage.getSparsity())
                            : JobSpecs.patternLabel(stage.getPattern()),
                    stage.getAchievedSparsity(),
                    ppl);
        }
        for (int i = 0; i < report.getPerplexitiesBeforeCount(); i++) {
            PerplexityResult before = report.getPerplexitiesBefore(i);
            PerplexityResult after = report.getPerplexitiesAfter(i);
            out.printf(
                    Locale.ROOT,
                    "%s%s (%s, %d tokens): ppl before %.4f, after %.4f%n",
                    before.getDataset(),
                    before.getRange().isEmpty() ? "" : " [" + before.getRange() + "]",
                    before.getProtocol()
                            .name()
                            .replace("PERPLEXITY_PROTOCOL_", "")
                            .toLowerCase(Locale.ROOT),
                    before.getTokensScored(),
                    before.getPerplexity(),
                    after.getPerplexity());
        }
        for (int i = 0; i < report.getTasksBeforeCount() && i < report.getTasksAfterCount(); i++) {
            TaskAccuracy before = report.getTasksBefore(i);
            TaskAccuracy after = report.getTasksAfter(i);
            out.printf(
                    Locale.ROOT,
                    "%s (%d items): acc before %.4f ± %.4f, after %.4f ± %.4f%n",
                    before.getTask(),
                    before.getItems(),
                    before.getAcc(),
                    before.getAccStderr(),
                    after.getAcc(),
                    after.getAccStderr());
        }
        out.printf(Locale.ROOT, "run directory %s%n", run.dir());
        out.printf(
                Locale.ROOT,
                "output=%s sparsity=%.4f%s%s%n",
                report.getSpec().getOutput(),
                report.getAchievedSparsity(),
                report.getPerplexitiesAfterCount() > 0
                        ? String.format(
                                Locale.ROOT,
                                " ppl_before=%.4f ppl_after=%.4f",
                                report.getPerplexitiesBefore(0).getPerplexity(),
                                report.getPerplexitiesAfter(0).getPerplexity())
                        : "",
                report.getTasksAfterCount() > 0
                        ? String.format(
                                Locale.ROOT,
                                " mean_acc_before=%.4f mean_acc_after=%.4f",
                                meanAcc(report.getTasksBeforeList()),
                                meanAcc(report.getTasksAfterList()))
                        : "");
    }

    private static double meanAcc(List<TaskAccuracy> tasks) {
        return tasks.stream().mapToDouble(TaskAccuracy::getAcc).average().orElse(Double.NaN);
    }
}
