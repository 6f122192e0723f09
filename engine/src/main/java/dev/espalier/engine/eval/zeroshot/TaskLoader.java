package dev.espalier.engine.eval.zeroshot;

import dev.espalier.engine.data.DataFormatException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/** Reads a task's items: a built-in task from the task-data folder, or a user's file in one of the generic formats. */
public final class TaskLoader {
    /** The official PIQA release, preferred to llm-foundry's copy (whose choices lost trailing spaces) when present. */
    static final String PIQA_OFFICIAL = "piqa-official/valid.jsonl";

    static final String PIQA_OFFICIAL_LABELS = "piqa-official/valid-labels.lst";

    private TaskLoader() {}

    /** {@code task} from its file under {@code dir}. */
    public static TaskData load(ZeroShotTask task, Path dir) {
        if (task == ZeroShotTask.PIQA
                && Files.isRegularFile(dir.resolve(PIQA_OFFICIAL))
                && Files.isRegularFile(dir.resolve(PIQA_OFFICIAL_LABELS))) {
            return piqaOfficial(dir.resolve(PIQA_OFFICIAL), dir.resolve(PIQA_OFFICIAL_LABELS));
        }
        Path file = dir.resolve(task.fileName());
        return new TaskData(task.label(), file, JsonLinesReader.read(file, task.parser()));
    }

    /**
     * A user's file for the task {@code name}: a built-in task's name reads the file in that task's format; any other
     * name tells the format by the first line's fields: {@code {"query", "choices", "gold"}} multiple choice,
     * {@code {"context_options", "continuation", "gold"}} partial scoring (WinoGrande), {@code {"context",
     * "continuation"}} LAMBADA style.
     */
    public static TaskData loadFile(String name, Path file) {
        ZeroShotTask builtIn = ZeroShotTask.byLabel(name);
        Function<JsonLine, TaskItem> parser = builtIn != null ? builtIn.parser() : genericFormat(file);
        return new TaskData(name, file, JsonLinesReader.read(file, parser));
    }

    private static Function<JsonLine, TaskItem> genericFormat(Path file) {
        JsonLine first = JsonLinesReader.first(file);
        if (first.has("context_options")) {
            return TaskFormats::winograndeFoundry;
        }
        if (first.has("query") || first.has("choices")) {
            return TaskFormats::multipleChoice;
        }
        if (first.has("context") || first.has("continuation")) {
            return TaskFormats::continuation;
        }
        throw first.error(
                "unknown format: expected {\"query\", \"choices\", \"gold\"} (multiple choice), "
                        + "{\"context\", \"continuation\"} (LAMBADA style) or {\"context_options\", \"continuation\", \"gold\"} (partial scoring)");
    }

    private static TaskData piqaOfficial(Path file, Path labelsFile) {
        List<String> labels;
        try {
            labels = Files.readAllLines(labelsFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DataFormatException(labelsFile, "cannot be read (" + e.getMessage() + ")");
        }
        List<TaskItem> items =
                JsonLinesReader.read(file, j -> TaskFormats.piqaOfficial(j, label(labelsFile, labels, j.line())));
        if (labels.size() != items.size()) {
            throw new DataFormatException(
                    labelsFile, labels.size() + " labels for the " + items.size() + " items of " + file);
        }
        return new TaskData(ZeroShotTask.PIQA.label(), file, items);
    }

    private static int label(Path labelsFile, List<String> labels, int line) {
        String label = line <= labels.size() ? labels.get(line - 1).strip() : "";
        if (!label.equals("0") && !label.equals("1")) {
            throw new DataFormatException(
                    labelsFile, "line " + line + ": expected the label 0 or 1, got \"" + label + "\"");
        }
        return Integer.parseInt(label);
    }
}
