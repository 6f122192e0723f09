package dev.espalier.engine.job;

import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobEvent;

/** Where a job reports what happens: the run's event log, and (on a node) the job's live status and watchers. */
@FunctionalInterface
public interface EventSink {

    /**
     * Records {@code event} (one of its {@code kind} fields set: progress, layer_pruned, …): the sink sets job id,
     * the next sequence number and the time when unset, forces it to the event log, and returns what it recorded.
     * Safe to call from any thread. Executors emit neither started nor terminal events: the node does.
     */
    JobEvent emit(JobEvent.Builder event);

    /** A sink that only appends to {@code run}'s event log (one-shot runs without a node). */
    static EventSink of(RunDirectory run) {
        return run.events()::append;
    }
}
