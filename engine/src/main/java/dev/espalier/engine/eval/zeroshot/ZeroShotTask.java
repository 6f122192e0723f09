package dev.espalier.engine.eval.zeroshot;

import java.util.Locale;
import java.util.function.Function;

/** The built-in zero-shot tasks, their files under the task-data folder and how those files are read. */
public enum ZeroShotTask {
    PIQA("piqa.jsonl", TaskFormats::piqaFoundry, true),
    ARC_EASY("arc_easy.jsonl", TaskFormats::arcFoundry, true),
    ARC_CHALLENGE("arc_challenge.jsonl", TaskFormats::arcFoundry, true),
    BOOLQ("boolq.jsonl", TaskFormats::boolqFoundry, false),
    HELLASWAG("hellaswag_val_1000.jsonl", TaskFormats::hellaswag, true),
    WINOGRANDE("winogrande.jsonl", TaskFormats::winograndeFoundry, false),
    OPENBOOKQA("openbook_qa.jsonl", TaskFormats::multipleChoice, true);

    private final String fileName;
    private final Function<JsonLine, TaskItem> parser;
    private final boolean papersReportAccNorm;

    ZeroShotTask(String fileName, Function<JsonLine, TaskItem> parser, boolean papersReportAccNorm) {
        this.fileName = fileName;
        this.parser = parser;
        this.papersReportAccNorm = papersReportAccNorm;
    }

    /** The name on the command line and in reports, e.g. {@code arc_easy}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The file under the task-data folder. */
    public String fileName() {
        return fileName;
    }

    /** Whether the harness's task lists acc_norm (BoolQ and WinoGrande report acc only). */
    public boolean papersReportAccNorm() {
        return papersReportAccNorm;
    }

    Function<JsonLine, TaskItem> parser() {
        return parser;
    }

    /** The task named {@code label} (case-insensitive), or null. */
    public static ZeroShotTask byLabel(String label) {
        for (ZeroShotTask t : values()) {
            if (t.label().equalsIgnoreCase(label)) {
                return t;
            }
        }
        return null;
    }
}
