package dev.espalier.engine.eval.zeroshot;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Where a {@link ZeroShotEvaluator} sends its batches: one log-likelihood per encoded request, in order, completed now
 * ({@link #local}) or later, by a device worker. An IllegalArgumentException (thrown, or completing the future) means the
 * batch's requests cannot be scored, e.g. a continuation too long for the model.
 */
@FunctionalInterface
public interface BatchScorer {
    CompletableFuture<Loglikelihood[]> score(List<EncodedRequest> batch);

    /** {@code scorer} on the calling thread. */
    static BatchScorer local(LoglikelihoodScorer scorer) {
        return batch -> CompletableFuture.completedFuture(scorer.score(batch));
    }
}
