package dev.espalier.engine.eval.zeroshot;

import java.nio.file.Path;
import java.util.List;

/** The items of one task as read from {@code file} (which may be one of several files the task was read from). */
public record TaskData(String name, Path file, List<TaskItem> items) {
    public TaskData {
        items = List.copyOf(items);
    }

    /** The first {@code limit} items (all when {@code limit} ≤ 0), as the harness's {@code --limit} does. */
    public TaskData limit(int limit) {
        return limit <= 0 || limit >= items.size() ? this : new TaskData(name, file, items.subList(0, limit));
    }
}
