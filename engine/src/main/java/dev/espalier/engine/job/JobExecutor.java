package dev.espalier.engine.job;

import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobSpec;

/**
 * Runs one job to completion in its run directory: the pruning pipeline implements it per method. The same
 * executor is handed a fresh run directory, or, after a node restart, the one the interrupted run left: it then
 * resumes from {@link RunDirectory#manifest()} (completed layers, verified artefacts, policy step, random state) and
 * must produce the same result as an uninterrupted run.
 */
@FunctionalInterface
public interface JobExecutor {

    /**
     * Checks what can be checked before anything is written (method options, calibration file, devices); throws
     * IllegalArgumentException / UnsupportedOperationException naming the problem. Nothing to check by default.
     */
    default void validate(JobSpec spec) {}

    /**
     * Does the job. Returning normally means success: the exported model is at {@code spec.getOutput()} and the report
     * (if any) was committed with {@link RunDirectory#commitReport}. Throwing means failure; the exception's message
     * becomes the job's one-line error. On cancellation, throw {@link java.util.concurrent.CancellationException}
     * (e.g. via {@link CancellationToken#throwIfCancelled()}) at the next safe point.
     */
    void run(JobSpec spec, RunDirectory run, EventSink events, CancellationToken cancel) throws Exception;
}
