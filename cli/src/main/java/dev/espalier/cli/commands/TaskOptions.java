package dev.espalier.cli.commands;

import dev.espalier.engine.eval.zeroshot.ZeroShotTask;
import dev.espalier.protocol.v1.TaskFile;
import dev.espalier.protocol.v1.ZeroShotSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The zero-shot tasks to score and how, as {@code eval}, {@code prune}, {@code submit} and {@code compare} take them;
 * read into the job spec's {@link ZeroShotSettings}.
 */
public final class TaskOptions {
    @Option(
            names = "--tasks",
            split = ",",
            paramLabel = "<task>",
            description =
                    "Zero-shot tasks, comma-separated: piqa, arc_easy, arc_challenge, boolq, hellaswag, winogrande, openbookqa.")
    List<ZeroShotTask> tasks = new ArrayList<>();

    @Option(
            names = "--task-file",
            paramLabel = "NAME=<file.jsonl>",
            description = "A zero-shot task of your own (repeatable).")
    Map<String, Path> taskFiles = new LinkedHashMap<>();

    @Option(
            names = "--task-data",
            defaultValue = "../shared/data/zeroshot",
            paramLabel = "<dir>",
            description = "Folder of the built-in tasks' files (default: ${DEFAULT-VALUE}).")
    Path taskData;

    @Option(
            names = {"--limit", "--task-limit"},
            defaultValue = "0",
            paramLabel = "N",
            description = "Score only the first N items of each task (default: all).")
    int limit;

    @Option(
            names = {"--batch-size", "--task-batch-size"},
            defaultValue = "8",
            paramLabel = "N",
            description =
                    "Task items encoded and scored together; shared contexts run once per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    /** Whether any task was asked for. */
    boolean any() {
        return !tasks.isEmpty() || !taskFiles.isEmpty();
    }

    /** The settings these options describe, paths made absolute; IllegalArgumentException naming a bad value. */
    ZeroShotSettings toSettings() {
        if (limit < 0 || batchSize < 1) {
            throw new IllegalArgumentException(
                    limit < 0 ? "--limit must be ≥ 0, got " + limit : "--batch-size must be ≥ 1, got " + batchSize);
        }
        ZeroShotSettings.Builder s = ZeroShotSettings.newBuilder()
                .setTaskData(absolute(taskData))
                .setLimit(limit)
                .setBatchSize(batchSize);
        tasks.forEach(t -> s.addTasks(t.label()));
        taskFiles.forEach((name, file) ->
                s.addTaskFiles(TaskFile.newBuilder().setName(name).setPath(absolute(file))));
        return s.build();
    }

    private static String absolute(Path path) {
        return path.toAbsolutePath().normalize().toString();
    }
}
