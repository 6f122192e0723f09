package dev.espalier.engine.job;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/** Waits on the job's thread for one phase that actors run, ending the wait at once when the job is cancelled. */
final class Await {
    private Await() {}

    /** The phase's result; its failure rethrown as it was; CancellationException when {@code cancel} fires first. */
    static <T> T result(CompletableFuture<T> phase, CancellationToken cancel) throws Exception {
        cancel.onCancel(() -> phase.completeExceptionally(new CancellationException(cancel.reason())));
        try {
            return phase.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }
}
