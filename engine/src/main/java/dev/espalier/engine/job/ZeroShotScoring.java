package dev.espalier.engine.job;

import dev.espalier.engine.eval.ProgressListener;
import dev.espalier.engine.eval.zeroshot.BatchScorer;
import dev.espalier.engine.eval.zeroshot.RequestEncoder;
import dev.espalier.engine.eval.zeroshot.TaskData;
import dev.espalier.engine.eval.zeroshot.TaskLoader;
import dev.espalier.engine.eval.zeroshot.TaskResult;
import dev.espalier.engine.eval.zeroshot.ZeroShotEvaluator;
import dev.espalier.engine.eval.zeroshot.ZeroShotTask;
import dev.espalier.engine.runtime.DeviceWorker;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.ModelRef;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.protocol.v1.TaskAccuracy;
import dev.espalier.protocol.v1.TaskFile;
import dev.espalier.protocol.v1.ZeroShotSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Zero-shot tasks scored on a job's device workers: the job's thread reads and encodes the items, and the batches go
 * to the job's workers in turn ({@link DeviceWorker.ScoreRequests}), two per worker in flight, so that several workers
 * score one task together and every worker's queue bounds what is outstanding. The scores are those of one worker, as
 * each request's score depends only on its own tokens (tested for one and two workers). Serves the prune job (dense and
 * pruned model) and {@code espalier eval --tasks}.
 */
public final class ZeroShotScoring {
    /** The folder of the built-in tasks' files when the settings name none (as the CLI's default). */
    public static final Path DEFAULT_TASK_DATA = Path.of("../shared/data/zeroshot");
    /** Items encoded and scored together when the settings name no batch size. */
    public static final int DEFAULT_BATCH_SIZE = 8;

    private static final int BATCHES_PER_WORKER = 2;

    private ZeroShotScoring() {}

    /**
     * The tasks of {@code settings}, read and cut to its limit: the built-in tasks from their folder, then the user's
     * files; a DataFormatException names a bad file and line before any work.
     */
    public static List<TaskData> load(ZeroShotSettings settings) {
        Path dir = settings.getTaskData().isEmpty() ? DEFAULT_TASK_DATA : Path.of(settings.getTaskData());
        List<TaskData> tasks = new ArrayList<>();
        for (String name : settings.getTasksList()) {
            ZeroShotTask task = ZeroShotTask.byLabel(name);
            if (task == null) {
                throw new IllegalArgumentException("unknown zero-shot task '" + name + "'");
            }
            tasks.add(TaskLoader.load(task, dir).limit(settings.getLimit()));
        }
        for (TaskFile file : settings.getTaskFilesList()) {
            tasks.add(
                    TaskLoader.loadFile(file.getName(), Path.of(file.getPath())).limit(settings.getLimit()));
        }
        return tasks;
    }

    /** Items per batch under {@code settings}. */
    public static int batchSize(ZeroShotSettings settings) {
        return settings.getBatchSize() > 0 ? settings.getBatchSize() : DEFAULT_BATCH_SIZE;
    }

    /**
     * The results of {@code tasks} on the host model {@code model}, in order; {@code progress} gives each task's
     * listener (in items).
     */
    public static List<TaskResult> score(
            Devices devices,
            Devices.JobDevices session,
            ModelRef model,
            Tokenizer tokenizer,
            List<TaskData> tasks,
            int batchSize,
            Function<String, ProgressListener> progress) {
        AtomicInteger next = new AtomicInteger();
        BatchScorer onWorkers = batch -> devices.call(
                        session.workers()
                                .get(Math.floorMod(
                                        next.getAndIncrement(),
                                        session.workers().size())),
                        DeviceWorker.RequestsScored.class,
                        replyTo -> new DeviceWorker.ScoreRequests(session.session(), model, batch, replyTo))
                .thenApply(DeviceWorker.RequestsScored::scores);
        ZeroShotEvaluator evaluator = new ZeroShotEvaluator(
                onWorkers, BATCHES_PER_WORKER * session.workers().size(), new RequestEncoder(tokenizer));
        List<TaskResult> results = new ArrayList<>();
        for (TaskData task : tasks) {
            results.add(evaluator.evaluate(task, batchSize, progress.apply(task.name())));
        }
        return results;
    }

    /** {@code r} as the run report records it. */
    public static TaskAccuracy toProto(TaskResult r) {
        TaskAccuracy.Builder b = TaskAccuracy.newBuilder()
                .setTask(r.task())
                .setFile(r.file().toString())
                .setItems(r.items())
                .setAcc(r.acc())
                .setAccStderr(r.accStderr());
        if (!Double.isNaN(r.accNorm())) {
            b.setAccNorm(r.accNorm()).setAccNormStderr(r.accNormStderr());
        }
        if (!Double.isNaN(r.chance())) {
            b.setChance(r.chance());
        }
        if (!Double.isNaN(r.perplexity())) {
            b.setPerplexity(r.perplexity());
        }
        ZeroShotTask builtIn = ZeroShotTask.byLabel(r.task());
        return b.setPapersReportAccNorm(builtIn != null && builtIn.papersReportAccNorm())
                .build();
    }
}
