package dev.espalier.engine.eval.zeroshot;

import dev.espalier.engine.data.DataFormatException;
import dev.espalier.engine.eval.ProgressListener;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Scores a task's items in batches: each batch's requests are encoded, then scored together, so that contexts shared
 * within a batch (an item's choices; WinoGrande's item pairs) are run once. Up to {@code inFlight} batches are out at
 * once (on several device workers, each its own); results are gathered in item order. Scores depend neither on the
 * batch size nor on where a batch ran.
 */
public final class ZeroShotEvaluator {
    private final BatchScorer scorer;
    private final int inFlight;
    private final RequestEncoder encoder;

    /** @param inFlight batches sent before the first is waited for, ≥ 1 */
    public ZeroShotEvaluator(BatchScorer scorer, int inFlight, RequestEncoder encoder) {
        if (inFlight < 1) {
            throw new IllegalArgumentException("batches in flight must be ≥ 1, got " + inFlight);
        }
        this.scorer = scorer;
        this.inFlight = inFlight;
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
        Deque<Pending> pending = new ArrayDeque<>();
        for (int from = 0; from < items.size(); from += batchSize) {
            List<TaskItem> batch = items.subList(from, Math.min(from + batchSize, items.size()));
            List<EncodedRequest> encoded = new ArrayList<>();
            for (TaskItem item : batch) {
                for (Request r : item.requests()) {
                    encoded.add(encode(task, item, r));
                }
            }
            pending.add(new Pending(batch, send(task, batch, encoded)));
            if (pending.size() >= inFlight) {
                collect(task, pending.removeFirst(), out, progress);
            }
        }
        while (!pending.isEmpty()) {
            collect(task, pending.removeFirst(), out, progress);
        }
        return out;
    }

    /** A batch sent and not yet collected. */
    private record Pending(List<TaskItem> items, CompletableFuture<Loglikelihood[]> scores) {}

    private EncodedRequest encode(TaskData task, TaskItem item, Request r) {
        try {
            return encoder.encode(r);
        } catch (IllegalArgumentException e) {
            throw new DataFormatException(task.file(), "line " + item.line() + ": " + e.getMessage());
        }
    }

    private CompletableFuture<Loglikelihood[]> send(TaskData task, List<TaskItem> batch, List<EncodedRequest> encoded) {
        try {
            return scorer.score(encoded);
        } catch (IllegalArgumentException e) {
            throw badBatch(task, batch, e);
        }
    }

    private void collect(TaskData task, Pending p, List<Loglikelihood[]> out, ProgressListener progress) {
        Loglikelihood[] scores;
        try {
            scores = p.scores().join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof IllegalArgumentException bad) {
                throw badBatch(task, p.items(), bad);
            }
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        int next = 0;
        for (TaskItem item : p.items()) {
            out.add(Arrays.copyOfRange(scores, next, next + item.requests().size()));
            next += item.requests().size();
        }
        progress.progress(out.size(), task.items().size());
    }

    private static DataFormatException badBatch(TaskData task, List<TaskItem> batch, IllegalArgumentException e) {
        return new DataFormatException(
                task.file(),
                "lines " + batch.getFirst().line() + "-" + batch.getLast().line() + ": " + e.getMessage());
    }
}
