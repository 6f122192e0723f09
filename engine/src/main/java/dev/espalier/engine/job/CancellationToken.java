package dev.espalier.engine.job;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;

/**
 * Asks a running job to stop. Cooperative: the executor polls {@link #isCancelled()} or calls
 * {@link #throwIfCancelled()} between units of work (batches, layers, steps), or registers {@link #onCancel} actions
 * (e.g. stopping its actors). The first {@link #cancel} wins; its reason is kept.
 */
public final class CancellationToken {
    private final List<Runnable> actions = new ArrayList<>();
    private String reason; // guarded by this; null while not cancelled

    /** Whether {@link #cancel} was called. */
    public synchronized boolean isCancelled() {
        return reason != null;
    }

    /** Why the job was cancelled; null while it is not. */
    public synchronized String reason() {
        return reason;
    }

    /** Throws {@link CancellationException} with the reason when cancelled; the executor lets it propagate. */
    public void throwIfCancelled() {
        String why = reason();
        if (why != null) {
            throw new CancellationException(why);
        }
    }

    /** Runs {@code action} on cancellation (at once, on this thread, if already cancelled). */
    public void onCancel(Runnable action) {
        synchronized (this) {
            if (reason == null) {
                actions.add(action);
                return;
            }
        }
        action.run();
    }

    /** Cancels with {@code why} and runs the registered actions; returns false when it was already cancelled. */
    public boolean cancel(String why) {
        List<Runnable> toRun;
        synchronized (this) {
            if (reason != null) {
                return false;
            }
            reason = why;
            toRun = List.copyOf(actions);
            actions.clear();
        }
        toRun.forEach(Runnable::run);
        return true;
    }
}
