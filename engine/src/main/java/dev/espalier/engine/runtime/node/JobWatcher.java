package dev.espalier.engine.runtime.node;

import dev.espalier.engine.runtime.store.EventLog;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobEvent;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Streams one job's events to one WatchJob client on a virtual thread: the events already logged from the asked
 * sequence on, then new ones as they are appended, until the terminal event (or a finished job's last event). Waits
 * while the client's transport is not ready, so a slow client does not make the node buffer without bound. The events
 * come from the job's open log when this node runs it, or from its file in the shared run folder when another node of
 * a cluster does ({@link #fromDisk}).
 */
final class JobWatcher implements Runnable {
    private static final long POLL_MILLIS = 200;

    /** Where the events come from. */
    interface Events {
        /** The events with sequence ≥ {@code next}, oldest first. */
        List<JobEvent> from(long next);

        /** Whether no event at or after {@code next} will ever come (the job ended without one more). */
        boolean exhausted(long next);

        /** Waits up to {@code millis} for an event after {@code sequence}. */
        void awaitAfter(long sequence, long millis) throws InterruptedException;
    }

    /** The events of the open log of a job this node runs. */
    static Events fromLog(JobRecord record, EventLog log) {
        return new Events() {
            @Override
            public List<JobEvent> from(long next) {
                return log.eventsFrom(next);
            }

            @Override
            public boolean exhausted(long next) {
                return record.eventsClosed() && log.lastSequence() < next;
            }

            @Override
            public void awaitAfter(long sequence, long millis) throws InterruptedException {
                log.awaitAfter(sequence, millis, TimeUnit.MILLISECONDS);
            }
        };
    }

    /**
     * The events of job {@code record} as written to its log file by whichever node runs it; exhausted once the status
     * on disk is terminal ({@code reload} re-reads it) and the file has nothing more.
     */
    static Events fromDisk(JobRecord record, Supplier<JobRecord> reload) {
        Path file = record.dir.resolve(RunDirectory.EVENTS_FILE);
        return new Events() {
            @Override
            public List<JobEvent> from(long next) {
                return EventLog.readCommitted(file, record.id, next);
            }

            @Override
            public boolean exhausted(long next) {
                return JobRecord.isTerminal(reload.get().status().getState())
                        && EventLog.readCommitted(file, record.id, next).isEmpty();
            }

            @Override
            public void awaitAfter(long sequence, long millis) throws InterruptedException {
                Thread.sleep(millis);
            }
        };
    }

    private final Events log;
    private final ServerCallStreamObserver<JobEvent> observer;
    private final AtomicBoolean closing;
    private final Object ready = new Object();
    private long next;

    JobWatcher(Events log, long fromSequence, ServerCallStreamObserver<JobEvent> observer, AtomicBoolean closing) {
        this.log = log;
        this.next = Math.max(1, fromSequence);
        this.observer = observer;
        this.closing = closing;
        observer.setOnReadyHandler(this::signalReady);
        observer.setOnCancelHandler(this::signalReady);
    }

    private void signalReady() {
        synchronized (ready) {
            ready.notifyAll();
        }
    }

    @Override
    public void run() {
        try {
            while (!observer.isCancelled()) {
                if (closing.get()) {
                    observer.onError(Status.UNAVAILABLE
                            .withDescription(
                                    "the node is shutting down; watch again from sequence " + next + " once it is back")
                            .asRuntimeException());
                    return;
                }
                List<JobEvent> batch = log.from(next);
                for (JobEvent event : batch) {
                    if (!awaitReady()) {
                        return;
                    }
                    observer.onNext(event);
                    next = event.getSequence() + 1;
                    if (JobStore.isTerminal(event)) {
                        observer.onCompleted();
                        return;
                    }
                }
                if (batch.isEmpty() && log.exhausted(next)) {
                    observer.onCompleted();
                    return;
                }
                log.awaitAfter(next - 1, POLL_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            observer.onError(
                    Status.CANCELLED.withDescription("watch interrupted").asRuntimeException());
        } catch (RuntimeException e) {
            if (!observer.isCancelled()) {
                observer.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
            }
        }
    }

    private boolean awaitReady() throws InterruptedException {
        synchronized (ready) {
            while (!observer.isReady()) {
                if (observer.isCancelled() || closing.get()) {
                    return false;
                }
                ready.wait(POLL_MILLIS);
            }
        }
        return !observer.isCancelled();
    }
}
