package dev.espalier.cli.commands;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.runtime.node.NodeClient;
import dev.espalier.protocol.v1.GetJobRequest;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.SubmitJobRequest;
import dev.espalier.protocol.v1.WatchJobRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cells of a comparison run on a node: each cell's job is submitted once (its id kept in the cell's {@code job-id},
 * so that a comparison started again follows the jobs it already queued instead of queueing them twice), then each is
 * watched to its end and its report saved in the cell.
 */
final class NodeCells {
    private final NodeClient client;
    private final PrintWriter out;
    private final boolean quiet;

    NodeCells(NodeClient client, PrintWriter out, boolean quiet) {
        this.client = client;
        this.out = out;
        this.quiet = quiet;
    }

    /** 0 when every cell succeeded, 1 when some failed or were cancelled (the others still ran). */
    int run(List<CompareGrid.Cell> cells) {
        Map<CompareGrid.Cell, String> jobs = new LinkedHashMap<>();
        for (CompareGrid.Cell cell : cells) {
            String id = knownJob(cell);
            if (id == null) {
                id = client.blocking(30)
                        .submitJob(SubmitJobRequest.newBuilder()
                                .setSpec(cell.spec())
                                .build())
                        .getJobId();
                writeJobId(cell, id);
                out.println("cell " + cell.name() + ": submitted as " + id);
            } else {
                out.println("cell " + cell.name() + ": following " + id + ", submitted before");
            }
            jobs.put(cell, id);
        }
        out.flush();
        int exit = 0;
        for (var job : jobs.entrySet()) {
            if (!follow(job.getKey(), job.getValue())) {
                exit = 1;
            }
        }
        return exit;
    }

    /**
     * The job this cell submitted before, when the node still knows it and it has not failed or been cancelled (such a
     * cell is submitted again: running the comparison again retries it).
     */
    private String knownJob(CompareGrid.Cell cell) {
        if (!Files.isRegularFile(cell.jobIdFile())) {
            return null;
        }
        String id;
        try {
            id = Files.readString(cell.jobIdFile(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(cell.jobIdFile() + ": cannot be read", e);
        }
        try {
            JobState state = client.blocking(30)
                    .getJob(GetJobRequest.newBuilder().setJobId(id).build())
                    .getState();
            if (state == JobState.JOB_STATE_FAILED || state == JobState.JOB_STATE_CANCELLED) {
                out.println("cell " + cell.name() + ": job " + id + " ended " + StatusCommand.state(state)
                        + " before; submitting it again");
                return null;
            }
            return id;
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
                return null;
            }
            throw e;
        }
    }

    private boolean follow(CompareGrid.Cell cell, String id) {
        WatchCommand watch = new WatchCommand();
        watch.quiet = quiet;
        Iterator<JobEvent> events = client.streaming()
                .watchJob(WatchJobRequest.newBuilder()
                        .setJobId(id)
                        .setFromSequence(1)
                        .build());
        while (events.hasNext()) {
            JobEvent event = events.next();
            if (event.hasSucceeded()) {
                CompareCommand.saveReport(cell, event.getSucceeded().getReport());
                out.println("cell " + cell.name() + ": succeeded");
                return true;
            }
            if (event.hasFailed() || event.hasCancelled()) {
                out.println("cell " + cell.name() + ": "
                        + (event.hasFailed()
                                ? "failed: " + event.getFailed().getMessage()
                                : "cancelled: " + event.getCancelled().getReason()));
                return false;
            }
            if (!event.hasProgress()) {
                watch.show(out, event);
            }
        }
        out.println("cell " + cell.name() + ": the node ended the stream before the job ended");
        return false;
    }

    private static void writeJobId(CompareGrid.Cell cell, String id) {
        try {
            Files.createDirectories(cell.dir());
        } catch (IOException e) {
            throw new UncheckedIOException(cell.dir() + ": cannot be created", e);
        }
        AtomicFiles.write(cell.jobIdFile(), id.getBytes(StandardCharsets.UTF_8));
    }
}
