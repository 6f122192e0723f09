package dev.espalier.engine.eval.zeroshot;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Prints zero-shot results: a table for people and one machine-readable last line. */
public final class ZeroShotReport {
    private ZeroShotReport() {}

    /** A header and one row per task; "-" where a metric does not apply. */
    public static List<String> table(List<TaskResult> results) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format(
                Locale.ROOT,
                "%-16s %6s %8s %8s %8s %8s %8s %10s",
                "task",
                "items",
                "acc",
                "±",
                "acc_norm",
                "±",
                "chance",
                "ppl"));
        for (TaskResult r : results) {
            lines.add(String.format(
                    Locale.ROOT,
                    "%-16s %6d %8s %8s %8s %8s %8s %10s",
                    r.task(),
                    r.items(),
                    number(r.acc()),
                    number(r.accStderr()),
                    number(r.accNorm()),
                    number(r.accNormStderr()),
                    number(r.chance()),
                    number(r.perplexity())));
        }
        return lines;
    }

    /**
     * The machine-readable line, e.g. {@code zeroshot piqa.acc=0.5310 piqa.acc_stderr=0.0116 piqa.acc_norm=0.5250
     * piqa.acc_norm_stderr=0.0117 piqa.n=1838}; metrics that do not apply are left out.
     */
    public static String summaryLine(List<TaskResult> results) {
        StringBuilder out = new StringBuilder("zeroshot");
        for (TaskResult r : results) {
            String t = r.task();
            append(out, t + ".acc", r.acc());
            append(out, t + ".acc_stderr", r.accStderr());
            append(out, t + ".acc_norm", r.accNorm());
            append(out, t + ".acc_norm_stderr", r.accNormStderr());
            append(out, t + ".ppl", r.perplexity());
            out.append(' ').append(t).append(".n=").append(r.items());
        }
        return out.toString();
    }

    private static void append(StringBuilder out, String key, double value) {
        if (!Double.isNaN(value)) {
            out.append(' ').append(key).append('=').append(String.format(Locale.ROOT, "%.4f", value));
        }
    }

    private static String number(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.4f", v);
    }
}
