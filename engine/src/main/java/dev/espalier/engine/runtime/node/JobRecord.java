package dev.espalier.engine.runtime.node;

import dev.espalier.engine.job.CancellationToken;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * The node's live view of one job: its status (saved by {@link JobStore} at every change of state), its cancellation
 * token, and whether its event log is closed (the terminal event, if any, has been appended).
 */
final class JobRecord {
    /** Who asked a job to stop: a client (the job ends CANCELLED) or the node shutting down (it resumes on restart). */
    enum StopRequest {
        NONE,
        CLIENT,
        SHUTDOWN
    }

    final String id;
    final Path dir;
    final CancellationToken token = new CancellationToken();
    private JobStatus status;
    private StopRequest stop = StopRequest.NONE;
    private volatile boolean eventsClosed;

    JobRecord(String id, Path dir, JobStatus status) {
        this.id = id;
        this.dir = dir;
        this.status = status;
        this.eventsClosed = isTerminal(status.getState());
    }

    static boolean isTerminal(JobState state) {
        return state == JobState.JOB_STATE_SUCCEEDED
                || state == JobState.JOB_STATE_FAILED
                || state == JobState.JOB_STATE_CANCELLED;
    }

    synchronized JobStatus status() {
        return status;
    }

    synchronized void setStatus(JobStatus next) {
        status = next;
    }

    /** Applies {@code change} to the in-memory status only (progress; saved with the next change of state). */
    synchronized void updateLive(UnaryOperator<JobStatus.Builder> change) {
        status = change.apply(status.toBuilder()).build();
    }

    synchronized StopRequest stopRequest() {
        return stop;
    }

    /** Records the first stop request and cancels the token with {@code reason}. */
    void requestStop(StopRequest who, String reason) {
        synchronized (this) {
            if (stop != StopRequest.NONE) {
                return;
            }
            stop = who;
        }
        token.cancel(reason);
    }

    boolean eventsClosed() {
        return eventsClosed;
    }

    void closeEvents() {
        eventsClosed = true;
    }

    /** Folds a progress or layer event into the live status. */
    void observe(JobEvent event) {
        switch (event.getKindCase()) {
            case PROGRESS ->
                updateLive(s -> s.setStage(event.getProgress().getStage())
                        .setProgress(
                                event.getProgress().getTotal() > 0
                                        ? Math.min(
                                                1.0,
                                                (double) event.getProgress().getDone()
                                                        / event.getProgress().getTotal())
                                        : 0)
                        .setEtaSeconds(event.getProgress().getEtaSeconds()));
            case DEVICES_ASSIGNED ->
                updateLive(s -> s.clearDeviceWorkers()
                        .addAllDeviceWorkers(event.getDevicesAssigned().getWorkersList()));
            case LAYER_PRUNED ->
                updateLive(s -> s.setMessage("layer " + event.getLayerPruned().getLayer() + " pruned"));
            default -> {}
        }
    }
}
