package dev.espalier.engine.runtime.node;

import dev.espalier.engine.runtime.store.EventLog;
import dev.espalier.protocol.v1.JobEvent;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Streams one job's events to one WatchJob client on a virtual thread: the events already logged from the asked
 * sequence on, then new ones as they are appended, until the terminal event (or a finished job's last event). Waits
 * while the client's transport is not ready, so a slow client does not make the node buffer without bound.
 */
final class JobWatcher implements Runnable {
    private static final long POLL_MILLIS = 200;

    private final JobRecord record;
    private final EventLog log;
    private final ServerCallStreamObserver<JobEvent> observer;
    private final AtomicBoolean closing;
    private final Object ready = new Object();
    private long next;

    JobWatcher(
            JobRecord record,
            EventLog log,
            long fromSequence,
            ServerCallStreamObserver<JobEvent> observer,
            AtomicBoolean closing) {
        this.record = record;
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
                List<JobEvent> batch = log.eventsFrom(next);
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
                if (batch.isEmpty() && record.eventsClosed() && log.lastSequence() < next) {
                    observer.onCompleted();
                    return;
                }
                log.awaitAfter(next - 1, POLL_MILLIS, TimeUnit.MILLISECONDS);
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
