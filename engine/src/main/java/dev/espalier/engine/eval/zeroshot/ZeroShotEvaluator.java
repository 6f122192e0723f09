package dev.espalier.engine.eval.zeroshot;

import dev.espalier.engine.data.DataFormatException;
import dev.espalier.engine.eval.ProgressListener;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Scores a task's items in batches: each batch's requests are encoded, then scored together, so that contexts shared
 * within a batch (an item's choices; WinoGrande's item pairs) are run once. Scores do not depend on the batch size.
 */
public final class ZeroShotEvaluator {
    private final LoglikelihoodScorer scorer;
    private final RequestEncoder encoder;

    public ZeroShotEvaluator(LoglikelihoodScorer scorer, RequestEncoder encoder) {
        this.scorer = scorer;
        this.encoder = encoder;
    }

    /** The metrics of {@code task}. */
    public TaskResult evaluate(TaskData task, int batchSize, ProgressListener progress) {
        return TaskResult.of(task, score(task, batchSize, progress));
    }

    /** One log-likelihood per request of every item, in item order; progress is reported in items. */
    public List<Loglikelihood[]> score(TaskData task, int batchSize, ProgressListener progress) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be ≥ 1, got " + batchSize);
        }
        List<TaskItem> items = task.items();
        List<Loglikelihood[]> out = new ArrayList<>(items.size());
        for (int from = 0; from < items.size(); from += batchSize) {
            List<TaskItem> batch = items.subList(from, Math.min(from + batchSize, items.size()));
            List<EncodedRequest> encoded = new ArrayList<>();
            for (TaskItem item : batch) {
                for (Request r : item.requests()) {
                    encoded.add(encode(task, item, r));
                }
            }
            Loglikelihood[] scores = scoreBatch(task, batch, encoded);
            int next = 0;
            for (TaskItem item : batch) {
                out.add(Arrays.copyOfRange(scores, next, next + item.requests().size()));
                next += item.requests().size();
            }
            progress.progress(from + batch.size(), items.size());
        }
        return out;
    }

    private EncodedRequest encode(TaskData task, TaskItem item, Request r) {
        try {
            return encoder.encode(r);
        } catch (IllegalArgumentException e) {
            throw new DataFormatException(task.file(), "line " + item.line() + ": " + e.getMessage());
        }
    }

    private Loglikelihood[] scoreBatch(TaskData task, List<TaskItem> batch, List<EncodedRequest> encoded) {
        try {
            return scorer.score(encoded);
        } catch (IllegalArgumentException e) {
            throw new DataFormatException(
                    task.file(),
                    "lines " + batch.getFirst().line() + "-" + batch.getLast().line() + ": " + e.getMessage());
        }
    }
}
