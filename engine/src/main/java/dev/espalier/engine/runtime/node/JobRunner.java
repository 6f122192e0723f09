package dev.espalier.engine.runtime.node;

import dev.espalier.engine.job.EventSink;
import dev.espalier.engine.job.JobExecutor;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobCancelled;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobFailed;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.JobStarted;
import dev.espalier.protocol.v1.JobState;
import dev.espalier.protocol.v1.JobStatus;
import dev.espalier.protocol.v1.JobSucceeded;
import dev.espalier.protocol.v1.RunReport;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes a job through its life on a slot: RUNNING (status saved, JobStarted emitted), the executor, then one terminal
 * state (status saved first, then the terminal event). A job stopped by the node's shutdown keeps its RUNNING status
 * on disk, so the next start resumes it.
 */
final class JobRunner {
    private static final Logger LOG = LoggerFactory.getLogger(JobRunner.class);

    private final JobStore store;
    private final Function<JobSpec, JobExecutor> executors;
    private final Set<JobRecord> running;
    private final AtomicBoolean closing;
    private final String nodeName;

    /** {@code nodeName}: in a cluster, this node's name, saved in the status of the jobs it runs; else empty. */
    JobRunner(
            JobStore store,
            Function<JobSpec, JobExecutor> executors,
            Set<JobRecord> running,
            AtomicBoolean closing,
            String nodeName) {
        this.store = store;
        this.executors = executors;
        this.running = running;
        this.closing = closing;
        this.nodeName = nodeName;
    }

    /** Runs {@code record}'s job on the calling thread; never throws. */
    void run(JobRecord record) {
        try {
            runJob(record);
        } catch (RuntimeException e) {
            LOG.error("job {}: the node could not run it or record its outcome ({})", record.id, e.getMessage(), e);
            if (!record.eventsClosed() && record.stopRequest() != JobRecord.StopRequest.SHUTDOWN) {
                try {
                    fail(record, null, e);
                } catch (RuntimeException again) {
                    LOG.error("job {}: cannot be marked failed either ({})", record.id, again.getMessage());
                }
            }
        } finally {
            running.remove(record);
            if (record.stopRequest() != JobRecord.StopRequest.SHUTDOWN && !closing.get()) {
                record.closeEvents(); // whatever happened, watchers must not wait for events that will never come
            }
        }
    }

    private void runJob(JobRecord record) {
        running.add(record);
        if (closing.get() || record.stopRequest() == JobRecord.StopRequest.SHUTDOWN) {
            return; // stays QUEUED or RUNNING on disk: the next start takes it up
        }
        RunDirectory run;
        try {
            run = store.run(record);
        } catch (RuntimeException e) {
            fail(record, null, e);
            return;
        }
        if (record.stopRequest() == JobRecord.StopRequest.CLIENT) {
            terminal(
                    record,
                    run,
                    JobState.JOB_STATE_CANCELLED,
                    record.token.reason(),
                    JobEvent.newBuilder().setCancelled(JobCancelled.newBuilder().setReason(record.token.reason())));
            return;
        }
        boolean resumed = run.events().eventsFrom(1).stream().anyMatch(JobEvent::hasStarted);
        JobStatus status = record.status();
        store.save(
                record,
                status.toBuilder()
                        .setState(JobState.JOB_STATE_RUNNING)
                        .setMessage(resumed ? "resumed" : "running")
                        .setNode(nodeName)
                        .setStartedTimeMs(
                                status.getStartedTimeMs() != 0 ? status.getStartedTimeMs() : System.currentTimeMillis())
                        .build());
        run.setState(JobState.JOB_STATE_RUNNING);
        EventSink sink = event -> {
            if (event.hasStarted()
                    || event.hasSucceeded()
                    || event.hasFailed()
                    || event.hasCancelled()
                    || event.hasQueued()) {
                throw new IllegalArgumentException("an executor emits progress and layer events only; the node emits "
                        + event.getKindCase().name().toLowerCase(Locale.ROOT));
            }
            JobEvent recorded = run.events().append(event);
            record.observe(recorded);
            if (!nodeName.isEmpty() && recorded.hasLayerPruned()) {
                store.save(record, record.status()); // other nodes of the cluster read the status from disk
            }
            return recorded;
        };
        run.events()
                .append(JobEvent.newBuilder().setStarted(JobStarted.newBuilder().setResumed(resumed)));
        Throwable failure = null;
        try {
            JobSpec spec = status.getSpec();
            executors.apply(spec).run(spec, run, sink, record.token);
        } catch (Throwable t) { // an Error (e.g. OutOfMemoryError) fails the job, not the slot
            failure = t;
        }
        finish(record, run, failure);
    }

    private void finish(JobRecord record, RunDirectory run, Throwable failure) {
        switch (record.stopRequest()) {
            case SHUTDOWN ->
                LOG.info("job {}: stopped by the node's shutdown; it resumes on the next start", record.id);
            case CLIENT ->
                terminal(
                        record,
                        run,
                        JobState.JOB_STATE_CANCELLED,
                        record.token.reason(),
                        JobEvent.newBuilder()
                                .setCancelled(JobCancelled.newBuilder().setReason(record.token.reason())));
            case NONE -> {
                if (failure != null) {
                    fail(record, run, failure);
                    return;
                }
                RunReport report;
                try {
                    report = run.report().orElse(RunReport.getDefaultInstance());
                } catch (RuntimeException e) {
                    fail(record, run, e);
                    return;
                }
                String output = record.status().getSpec().getOutput();
                terminal(
                        record,
                        run,
                        JobState.JOB_STATE_SUCCEEDED,
                        "succeeded: " + output,
                        JobEvent.newBuilder()
                                .setSucceeded(JobSucceeded.newBuilder()
                                        .setOutput(output)
                                        .setReport(report)));
            }
        }
    }

    private void fail(JobRecord record, RunDirectory run, Throwable failure) {
        String message = oneLine(failure);
        LOG.warn("job {} failed: {}", record.id, message, failure);
        terminal(
                record,
                run,
                JobState.JOB_STATE_FAILED,
                message,
                JobEvent.newBuilder().setFailed(JobFailed.newBuilder().setMessage(message)));
    }

    /** Ends a job that is still waiting (cancelled before a slot took it). */
    void cancelQueued(JobRecord record, String reason) {
        terminal(
                record,
                store.run(record),
                JobState.JOB_STATE_CANCELLED,
                reason,
                JobEvent.newBuilder().setCancelled(JobCancelled.newBuilder().setReason(reason)));
    }

    private void terminal(JobRecord record, RunDirectory run, JobState state, String message, JobEvent.Builder event) {
        JobStatus.Builder next = record.status().toBuilder()
                .setState(state)
                .setMessage(message)
                .setFinishedTimeMs(System.currentTimeMillis())
                .setEtaSeconds(0);
        if (state == JobState.JOB_STATE_SUCCEEDED) {
            next.setProgress(1);
        }
        store.save(record, next.build());
        if (run != null) {
            run.setState(state);
            run.events().append(event);
        }
        record.closeEvents();
    }

    /** A failure as one line: its message, or its type when it has none. */
    static String oneLine(Throwable failure) {
        String message = failure.getMessage();
        if (message == null || message.isBlank()) {
            return failure.getClass().getSimpleName();
        }
        return message.replaceAll("\\s*\\R\\s*", " ").strip();
    }
}
