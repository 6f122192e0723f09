package dev.espalier.cli.commands;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.protocol.v1.ClusterNode;
import dev.espalier.protocol.v1.GetJobRequest;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.ListJobsRequest;
import dev.espalier.protocol.v1.ListJobsResponse;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code espalier status [JOB]}: one job in detail, or a table of all the node's jobs. */
@Command(
        name = "status",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Show one job of the node in detail, or all its jobs as a table.",
        footer = {
            "",
            "Examples:",
            "  ./espalier status",
            "  ./espalier status 20261122-163827-3fa9",
            "  ./espalier status --home /data/espalier    # the node started with serve --home /data/espalier"
        })
public final class StatusCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "<job-id>", description = "The job (default: all jobs).")
    String jobId;

    @Mixin
    NodeClientOptions node;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        return node.run(spec, client -> {
            if (jobId != null) {
                printDetail(
                        out,
                        client.blocking(10)
                                .getJob(GetJobRequest.newBuilder()
                                        .setJobId(jobId)
                                        .build()));
            } else {
                ListJobsResponse list = client.blocking(20).listJobs(ListJobsRequest.getDefaultInstance());
                printNodes(out, list.getNodesList());
                if (!list.getNodesUnavailable().isEmpty()) {
                    out.println("nodes: not listed (" + list.getNodesUnavailable() + ")");
                    out.println();
                }
                printTable(out, list.getJobsList());
            }
            return 0;
        });
    }

    static String state(JobState state) {
        return state.name().substring("JOB_STATE_".length()).toLowerCase(Locale.ROOT);
    }

    /** A cluster's nodes (nothing for a node on its own). */
    private static void printNodes(PrintWriter out, List<ClusterNode> nodes) {
        if (nodes.isEmpty()) {
            return;
        }
        String row = "%-22s %-22s %5s %-12s %s%n";
        out.printf(Locale.ROOT, row, "NODE", "CLIENTS AT", "SLOTS", "DEVICES", "JOBS HELD");
        for (ClusterNode n : nodes) {
            out.printf(
                    Locale.ROOT,
                    row,
                    n.getName() + (n.getScheduler() ? " *" : ""),
                    n.getClientAddress(),
                    n.getSlots(),
                    n.getDevices(),
                    n.getRunningJobsCount() == 0 ? "-" : String.join(", ", n.getRunningJobsList()));
        }
        out.println("(* hosts the cluster's job scheduler)");
        out.println();
    }

    private static void printTable(PrintWriter out, List<JobStatus> jobs) {
        if (jobs.isEmpty()) {
            out.println("no jobs");
            return;
        }
        String row = "%-22s %-9s %8s %-15s %8s  %s%n";
        out.printf(Locale.ROOT, row, "JOB", "STATE", "PROGRESS", "METHOD", "SPARSITY", "MESSAGE");
        for (JobStatus job : jobs) {
            out.printf(
                    Locale.ROOT,
                    row,
                    job.getJobId(),
                    state(job.getState()),
                    String.format(Locale.ROOT, "%.0f%%", 100 * job.getProgress()),
                    PruneMethods.label(job.getSpec().getMethod()) + " "
                            + JobSpecs.patternLabel(job.getSpec().getPattern()),
                    String.format(Locale.ROOT, "%.2f", job.getSpec().getSparsity()),
                    job.getMessage());
        }
    }

    private static void printDetail(PrintWriter out, JobStatus job) {
        out.printf(Locale.ROOT, "job        %s%n", job.getJobId());
        out.printf(Locale.ROOT, "state      %s: %s%n", state(job.getState()), job.getMessage());
        if (!job.getNode().isEmpty()) {
            out.printf(Locale.ROOT, "node       %s%n", job.getNode());
        }
        out.printf(
                Locale.ROOT,
                "progress   %.1f%%%s%s%n",
                100 * job.getProgress(),
                job.getStage().isEmpty() ? "" : " of " + job.getStage(),
                job.getEtaSeconds() > 0 ? String.format(Locale.ROOT, ", about %.0f s left", job.getEtaSeconds()) : "");
        out.printf(
                Locale.ROOT,
                "method     %s %s, sparsity %.4f, seed %d%n",
                PruneMethods.label(job.getSpec().getMethod()),
                JobSpecs.patternLabel(job.getSpec().getPattern()),
                job.getSpec().getSparsity(),
                job.getSpec().getSeed());
        if (job.getDeviceWorkersCount() > 0) {
            out.printf(
                    Locale.ROOT,
                    "devices    %s (the node's workers, shared by every job)%n",
                    String.join(", ", job.getDeviceWorkersList()));
        }
        out.printf(Locale.ROOT, "model      %s%n", job.getSpec().getModel());
        out.printf(Locale.ROOT, "output     %s%n", job.getSpec().getOutput());
        out.printf(Locale.ROOT, "run dir    %s%n", job.getRunDir());
        out.printf(Locale.ROOT, "submitted  %s%n", time(job.getSubmittedTimeMs()));
        out.printf(Locale.ROOT, "started    %s%n", time(job.getStartedTimeMs()));
        out.printf(Locale.ROOT, "finished   %s%n", time(job.getFinishedTimeMs()));
    }

    private static String time(long epochMillis) {
        return epochMillis == 0 ? "-" : Instant.ofEpochMilli(epochMillis).toString();
    }
}
