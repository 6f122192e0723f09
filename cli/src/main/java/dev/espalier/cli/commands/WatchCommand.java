package dev.espalier.cli.commands;

import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.LayerPruned;
import dev.espalier.protocol.v1.LayerReport;
import dev.espalier.protocol.v1.MatrixReport;
import dev.espalier.protocol.v1.PerplexityResult;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.WatchJobRequest;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code espalier watch JOB}: follow a job's events until it ends; exit 0 if it succeeded, 1 if it failed or was cancelled. */
@Command(
        name = "watch",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = {
            "Follow a job's events (with a progress bar) until it ends.",
            "Exit code: 0 the job succeeded, 1 it failed or was cancelled, 2 the node could not be reached."
        },
        footer = {
            "",
            "Examples:",
            "  ./espalier watch 20261122-163827-3fa9",
            "  ./espalier watch 20261122-163827-3fa9 --from 40 --quiet     # resume after event 39, no bar"
        })
public final class WatchCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "<job-id>", description = "The job to follow.")
    String jobId;

    @Option(
            names = "--from",
            defaultValue = "1",
            paramLabel = "N",
            description = "First event to show (default: ${DEFAULT-VALUE}).")
    long from;

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    @Mixin
    NodeClientOptions node;

    @Spec
    CommandSpec spec;

    private ConsoleProgress bar;
    private String barStage;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        return node.run(spec, client -> {
            long last = from - 1;
            try {
                Iterator<JobEvent> events = client.streaming()
                        .watchJob(WatchJobRequest.newBuilder()
                                .setJobId(jobId)
                                .setFromSequence(from)
                                .build());
                while (events.hasNext()) {
                    JobEvent event = events.next();
                    last = event.getSequence();
                    Integer exit = show(out, event);
                    if (exit != null) {
                        return exit;
                    }
                }
            } catch (StatusRuntimeException e) {
                if (last < from) {
                    throw e; // nothing received: the usual one-line error
                }
                closeBar();
                spec.commandLine()
                        .getErr()
                        .println("espalier watch: error: lost the node at " + client.address() + " after event " + last
                                + "; resume with: espalier watch " + jobId + " --from " + (last + 1));
                return 2;
            } finally {
                closeBar();
            }
            spec.commandLine()
                    .getErr()
                    .println("espalier watch: error: the node ended the stream before the job ended");
            return 1;
        });
    }

    /**
     * The line of one pruned layer. The event's reconstruction error is a proto3 double without presence: 0 when
     * the pipeline did not put it in the event (the actor pipeline leaves it out; the errors are in the report) or
     * did not measure it ({@code reconstruction_error=0}). An unknown error is left out rather than printed as 0.
     */
    static String layerLine(LayerPruned layer) {
        String error = layer.getReconstructionError() > 0
                ? String.format(Locale.ROOT, ", reconstruction error %.4g", layer.getReconstructionError())
                : "";
        return String.format(
                Locale.ROOT,
                "layer %d pruned: sparsity %.4f%s, %.1f s",
                layer.getLayer(),
                layer.getSparsity(),
                error,
                layer.getSeconds());
    }

    /** Prints one event; returns the exit code when it ends the job, else null. */
    Integer show(PrintWriter out, JobEvent event) {
        switch (event.getKindCase()) {
            case PROGRESS -> {
                if (!quiet) {
                    if (!event.getProgress().getStage().equals(barStage)) {
                        closeBar();
                        barStage = event.getProgress().getStage();
                        bar = new ConsoleProgress(barStage, true);
                    }
                    bar.progress(
                            event.getProgress().getDone(), event.getProgress().getTotal());
                }
                return null;
            }
            case QUEUED ->
                out.printf(
                        Locale.ROOT,
                        "queued (%d job(s) ahead)%n",
                        event.getQueued().getPosition());
            case STARTED ->
                out.println(event.getStarted().getResumed() ? "resumed from its last checkpoint" : "started");
            case DEVICES_ASSIGNED ->
                out.println("on device workers "
                        + String.join(", ", event.getDevicesAssigned().getWorkersList())
                        + " (shared by every job of the process)");
            case LAYER_PRUNED -> out.println(layerLine(event.getLayerPruned()));
            case SUCCEEDED -> {
                closeBar();
                printReport(out, event.getSucceeded().getReport());
                out.println("succeeded: pruned model in " + event.getSucceeded().getOutput());
                return 0;
            }
            case FAILED -> {
                closeBar();
                out.println("failed: " + event.getFailed().getMessage());
                return 1;
            }
            case CANCELLED -> {
                closeBar();
                out.println("cancelled: " + event.getCancelled().getReason());
                return 1;
            }
            default -> {}
        }
        out.flush();
        return null;
    }

    /**
     * The final report: reconstruction errors per layer (the sum over its matrices, as {@link LayerPruned} defines
     * it) and their mean over all matrices, the numbers report.json holds, when they were measured; then the
     * perplexities.
     */
    static void printReport(PrintWriter out, RunReport report) {
        double sum = 0;
        int measured = 0;
        for (LayerReport layer : report.getLayersList()) {
            double layerSum = 0;
            int layerMeasured = 0;
            for (MatrixReport matrix : layer.getMatricesList()) {
                if (matrix.getReconstructionError() > 0) {
                    layerSum += matrix.getReconstructionError();
                    layerMeasured++;
                }
            }
            if (layerMeasured > 0) {
                out.printf(
                        Locale.ROOT,
                        "layer %d: reconstruction error %.4g (sum over %d matrices)%n",
                        layer.getLayer(),
                        layerSum,
                        layerMeasured);
            }
            sum += layerSum;
            measured += layerMeasured;
        }
        if (measured > 0) {
            out.printf(Locale.ROOT, "mean reconstruction error %.4f over %d matrices%n", sum / measured, measured);
        }
        for (PerplexityResult before : report.getPerplexitiesBeforeList()) {
            out.printf(Locale.ROOT, "before: %s ppl=%.4f%n", before.getDataset(), before.getPerplexity());
        }
        for (PerplexityResult after : report.getPerplexitiesAfterList()) {
            out.printf(Locale.ROOT, "after:  %s ppl=%.4f%n", after.getDataset(), after.getPerplexity());
        }
    }

    private void closeBar() {
        if (bar != null) {
            bar.close();
            bar = null;
            barStage = null;
        }
    }
}
