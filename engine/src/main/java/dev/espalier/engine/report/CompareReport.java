package dev.espalier.engine.report;

import dev.espalier.protocol.v1.PerplexityResult;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.TaskAccuracy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The comparison of several runs on one model, as the papers tabulate it: one row per run (method × sparsity or
 * pattern) after the dense model's row, a column per perplexity dataset, per zero-shot task and for the mean accuracy,
 * the best pruned value of each column in bold; the same numbers as JSON; and plots of perplexity (log scale) and
 * accuracy against sparsity, one line per method. The dense row is read from the runs' own "before" measurements,
 * which must agree — otherwise the runs did not start from the same model and data, and no table is made.
 */
public final class CompareReport {
    /** One finished run of the comparison: its method and pattern labels ("wanda", "2:4"), its sparsity, its report. */
    public record Cell(String method, String pattern, double sparsity, RunReport report) {
        boolean nm() {
            return !pattern.equals("unstructured");
        }

        String level() {
            return nm() ? pattern : ReportFormat.percent(sparsity);
        }
    }

    private static final double DENSE_TOLERANCE = 1e-6;

    private CompareReport() {}

    /** compare.md's table with its legend. IllegalArgumentException when the cells' dense measurements disagree. */
    public static String markdown(List<Cell> cells) {
        Columns c = Columns.of(cells);
        List<String> header = new ArrayList<>(List.of("method", "sparsity", "achieved"));
        c.datasets.values().forEach(p -> header.add(ReportFormat.datasetLabel(p) + " ppl"));
        c.tasks.values().forEach(t -> header.add(t.getTask() + (ReportFormat.headlineIsNorm(t) ? " (acc_norm)" : "")));
        if (!c.tasks.isEmpty()) {
            header.add("mean acc");
        }
        List<List<String>> rows = new ArrayList<>();
        rows.add(row("dense", "0 %", "0 %", c.dense));
        for (Cell cell : cells) {
            rows.add(row(
                    cell.method(),
                    cell.level(),
                    String.format(Locale.ROOT, "%.1f %%", 100 * cell.report().getAchievedSparsity()),
                    c.values(cell.report(), false)));
        }
        boldBest(rows, c);
        MarkdownTable table = new MarkdownTable(header);
        rows.forEach(table::row);
        StringBuilder md = new StringBuilder(table.render()).append('\n');
        for (PerplexityResult p : c.datasets.values()) {
            md.append(String.format(
                    Locale.ROOT,
                    "- %s ppl: perplexity (lower is better) of %s, %s protocol, windows of %d tokens, %d tokens"
                            + " scored.%n",
                    ReportFormat.datasetName(p),
                    p.getDataset(),
                    ReportFormat.protocol(p.getProtocol()),
                    p.getWindow(),
                    p.getTokensScored()));
        }
        for (TaskAccuracy t : c.tasks.values()) {
            md.append(String.format(
                    Locale.ROOT,
                    "- %s: %s in %% over %d items%s.%n",
                    t.getTask(),
                    ReportFormat.headlineIsNorm(t) ? "acc_norm" : "acc",
                    t.getItems(),
                    t.hasChance() ? " (chance " + ReportFormat.accuracy(t.getChance()) + ")" : ""));
        }
        if (!c.tasks.isEmpty()) {
            md.append("- mean acc: the mean of the task columns.\n");
        }
        md.append("- Bold: the best pruned model in each column; \"-\": not measured.\n");
        return md.toString();
    }

    /** compare.json: the datasets and tasks, the dense model, and every cell with its numbers (null: not measured). */
    public static String json(List<Cell> cells) {
        Columns c = Columns.of(cells);
        Json j = new Json();
        j.open('{');
        j.key("datasets").open('[');
        for (PerplexityResult p : c.datasets.values()) {
            j.open('{');
            j.key("name").string(ReportFormat.datasetName(p));
            j.key("path").string(p.getDataset());
            j.key("protocol").string(ReportFormat.protocol(p.getProtocol()));
            j.key("window").number(p.getWindow());
            j.key("tokens_scored").number(p.getTokensScored());
            j.close('}');
        }
        j.close(']');
        j.key("tasks").open('[');
        for (TaskAccuracy t : c.tasks.values()) {
            j.open('{');
            j.key("task").string(t.getTask());
            j.key("metric").string(ReportFormat.headlineIsNorm(t) ? "acc_norm" : "acc");
            j.key("items").number(t.getItems());
            j.key("chance").number(t.hasChance() ? t.getChance() : Double.NaN);
            j.close('}');
        }
        j.close(']');
        j.key("dense").open('{');
        results(j, c, cells.getFirst().report(), true);
        j.close('}');
        j.key("cells").open('[');
        for (Cell cell : cells) {
            RunReport r = cell.report();
            j.open('{');
            j.key("method").string(cell.method());
            j.key("pattern").string(cell.pattern());
            j.key("sparsity").number(cell.sparsity());
            j.key("achieved_sparsity").number(r.getAchievedSparsity());
            j.key("job_id").string(r.getJobId());
            j.key("total_seconds").number(r.getTotalSeconds());
            results(j, c, r, false);
            j.close('}');
        }
        j.close(']');
        j.close('}');
        return j.text() + "\n";
    }

    /**
     * Writes the plots into {@code dir} — perplexity against sparsity (log scale) per dataset, accuracy against
     * sparsity per task and, with several tasks, of their mean — and returns their file names. Each method's
     * unstructured cells form one line starting at the dense model (sparsity 0); an N:M cell is a point of its own.
     */
    public static List<String> writePlots(Path dir, List<Cell> cells) {
        Columns c = Columns.of(cells);
        TreeSet<Double> levels = new TreeSet<>(List.of(0.0));
        cells.forEach(cell -> levels.add(cell.sparsity()));
        double[] x = levels.stream().mapToDouble(v -> 100 * v).toArray();
        List<String> files = new ArrayList<>();
        for (PerplexityResult p : c.datasets.values()) {
            String file = "perplexity-" + fileStem(ReportFormat.datasetName(p)) + ".png";
            WidthPlot.writeLogLines(
                    dir.resolve(file),
                    "perplexity on " + ReportFormat.datasetName(p) + " (" + ReportFormat.protocol(p.getProtocol())
                            + ", lower is better)",
                    "sparsity (%)",
                    "perplexity (log scale)",
                    x,
                    series(
                            cells,
                            levels,
                            r -> perplexity(r, p.getDataset(), false),
                            perplexity(c.first, p.getDataset(), true)));
            files.add(file);
        }
        for (TaskAccuracy t : c.tasks.values()) {
            String metric = ReportFormat.headlineIsNorm(t) ? "acc_norm" : "acc";
            List<WidthPlot.Series> series = series(
                    cells,
                    levels,
                    r -> 100 * accuracy(r, t.getTask(), false),
                    100 * accuracy(c.first, t.getTask(), true));
            if (t.hasChance()) {
                double[] chance = new double[x.length];
                Arrays.fill(chance, 100 * t.getChance());
                series.add(new WidthPlot.Series("chance", chance));
            }
            String file = "accuracy-" + fileStem(t.getTask()) + ".png";
            WidthPlot.writeLines(
                    dir.resolve(file),
                    t.getTask() + " (" + t.getItems() + " items)",
                    "sparsity (%)",
                    metric + " (%)",
                    x,
                    series);
            files.add(file);
        }
        if (c.tasks.size() > 1) {
            String file = "accuracy-mean.png";
            WidthPlot.writeLines(
                    dir.resolve(file),
                    "mean zero-shot accuracy over " + c.tasks.size() + " tasks",
                    "sparsity (%)",
                    "mean accuracy (%)",
                    x,
                    series(cells, levels, r -> 100 * c.meanAccuracy(r, false), 100 * c.meanAccuracy(c.first, true)));
            files.add(file);
        }
        return files;
    }

    /** One line per method over its unstructured cells (from the dense value at 0), one point per N:M cell. */
    private static List<WidthPlot.Series> series(
            List<Cell> cells, TreeSet<Double> levels, Function<RunReport, Double> value, double dense) {
        List<Double> xs = new ArrayList<>(levels);
        Map<String, double[]> lines = new LinkedHashMap<>();
        for (Cell cell : cells) {
            String label = cell.nm() ? cell.method() + " " + cell.pattern() : cell.method();
            double[] y = lines.computeIfAbsent(label, k -> {
                double[] fresh = new double[xs.size()];
                Arrays.fill(fresh, Double.NaN);
                return fresh;
            });
            if (!cell.nm()) {
                y[0] = dense;
            }
            y[xs.indexOf(cell.sparsity())] = value.apply(cell.report());
        }
        List<WidthPlot.Series> series = new ArrayList<>();
        lines.forEach((label, y) -> series.add(new WidthPlot.Series(label, y)));
        return series;
    }

    private static List<String> row(String method, String level, String achieved, List<String> values) {
        List<String> row = new ArrayList<>(List.of(method, level, achieved));
        row.addAll(values);
        return row;
    }

    /** Bold the best pruned value of each numeric column (lowest perplexity, highest accuracy); ties all bold. */
    private static void boldBest(List<List<String>> rows, Columns c) {
        int first = 3;
        int columns = rows.getFirst().size();
        for (int col = first; col < columns; col++) {
            boolean lowerIsBetter = col < first + c.datasets.size();
            String best = null;
            double bestValue = Double.NaN;
            for (List<String> row : rows.subList(1, rows.size())) {
                double v = parse(row.get(col));
                if (Double.isFinite(v) && (best == null || (lowerIsBetter ? v < bestValue : v > bestValue))) {
                    best = row.get(col);
                    bestValue = v;
                }
            }
            if (best == null || rows.size() < 3) {
                continue; // nothing to compare
            }
            for (List<String> row : rows.subList(1, rows.size())) {
                if (row.get(col).equals(best)) {
                    row.set(col, "**" + best + "**");
                }
            }
        }
    }

    private static double parse(String cell) {
        try {
            return Double.parseDouble(cell);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static double perplexity(RunReport r, String dataset, boolean dense) {
        for (PerplexityResult p : dense ? r.getPerplexitiesBeforeList() : r.getPerplexitiesAfterList()) {
            if (p.getDataset().equals(dataset)) {
                return p.getPerplexity();
            }
        }
        return Double.NaN;
    }

    private static double accuracy(RunReport r, String task, boolean dense) {
        for (TaskAccuracy t : dense ? r.getTasksBeforeList() : r.getTasksAfterList()) {
            if (t.getTask().equals(task)) {
                return ReportFormat.headline(t);
            }
        }
        return Double.NaN;
    }

    private static void results(Json j, Columns c, RunReport r, boolean dense) {
        j.key("perplexity").open('{');
        for (PerplexityResult p : c.datasets.values()) {
            j.key(ReportFormat.datasetName(p)).number(perplexity(dense ? c.first : r, p.getDataset(), dense));
        }
        j.close('}');
        j.key("accuracy").open('{');
        for (TaskAccuracy t : c.tasks.values()) {
            TaskAccuracy got = null;
            for (TaskAccuracy a : dense ? c.first.getTasksBeforeList() : r.getTasksAfterList()) {
                got = a.getTask().equals(t.getTask()) ? a : got;
            }
            j.key(t.getTask());
            if (got == null) {
                j.nothing();
                continue;
            }
            j.open('{');
            j.key("acc").number(got.getAcc());
            j.key("acc_stderr").number(got.getAccStderr());
            j.key("acc_norm").number(got.hasAccNorm() ? got.getAccNorm() : Double.NaN);
            j.key("acc_norm_stderr").number(got.hasAccNormStderr() ? got.getAccNormStderr() : Double.NaN);
            j.key("perplexity").number(got.hasPerplexity() ? got.getPerplexity() : Double.NaN);
            j.close('}');
        }
        j.close('}');
        j.key("mean_accuracy").number(c.tasks.isEmpty() ? Double.NaN : c.meanAccuracy(dense ? c.first : r, dense));
    }

    private static String fileStem(String name) {
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        return stem.replaceAll("[^A-Za-z0-9_-]", "_");
    }

    /**
     * The datasets and tasks of the comparison (in the order the cells first name them, keyed by dataset path and
     * task name) and the dense model's values, checked to agree across the cells.
     */
    private static final class Columns {
        final Map<String, PerplexityResult> datasets = new LinkedHashMap<>();
        final Map<String, TaskAccuracy> tasks = new LinkedHashMap<>();
        RunReport first;
        List<String> dense;

        static Columns of(List<Cell> cells) {
            if (cells.isEmpty()) {
                throw new IllegalArgumentException("nothing to compare: no finished run");
            }
            Columns c = new Columns();
            c.first = cells.getFirst().report();
            for (Cell cell : cells) {
                cell.report().getPerplexitiesAfterList().forEach(p -> c.datasets.putIfAbsent(p.getDataset(), p));
                cell.report().getTasksAfterList().forEach(t -> c.tasks.putIfAbsent(t.getTask(), t));
            }
            c.checkDenseAgrees(cells);
            c.dense = c.values(c.first, true);
            return c;
        }

        /** The row's values: a perplexity per dataset, an accuracy per task, the mean accuracy. */
        List<String> values(RunReport r, boolean dense) {
            List<String> values = new ArrayList<>();
            datasets.keySet().forEach(d -> values.add(ReportFormat.perplexity(perplexity(r, d, dense))));
            tasks.keySet().forEach(t -> values.add(ReportFormat.accuracy(accuracy(r, t, dense))));
            if (!tasks.isEmpty()) {
                values.add(ReportFormat.accuracy(meanAccuracy(r, dense)));
            }
            return values;
        }

        /** The mean of the task columns; NaN when one is missing. */
        double meanAccuracy(RunReport r, boolean dense) {
            double sum = 0;
            for (String t : tasks.keySet()) {
                sum += accuracy(r, t, dense);
            }
            return sum / tasks.size();
        }

        private void checkDenseAgrees(List<Cell> cells) {
            for (Cell cell : cells) {
                for (String d : datasets.keySet()) {
                    agree(cell, "perplexity on " + d, perplexity(first, d, true), perplexity(cell.report(), d, true));
                }
                for (String t : tasks.keySet()) {
                    agree(cell, t + " accuracy", accuracy(first, t, true), accuracy(cell.report(), t, true));
                }
            }
        }

        private void agree(Cell cell, String what, double expected, double got) {
            boolean same = Double.isNaN(expected) && Double.isNaN(got)
                    || Math.abs(expected - got) <= DENSE_TOLERANCE * Math.max(1, Math.abs(expected));
            if (!same) {
                throw new IllegalArgumentException("the dense model's " + what + " is " + expected + " in run "
                        + first.getJobId() + " but " + got + " in run "
                        + cell.report().getJobId() + " ("
                        + cell.method() + " " + cell.level() + "): the runs did not start from the same model and"
                        + " evaluation settings");
            }
        }
    }

    /** Just enough JSON writing for compare.json: objects, arrays, strings, numbers (non-finite: null). */
    private static final class Json {
        private final StringBuilder out = new StringBuilder();
        private boolean needsComma;

        void open(char bracket) {
            comma();
            out.append(bracket);
            needsComma = false;
        }

        void close(char bracket) {
            out.append(bracket);
            needsComma = true;
        }

        Json key(String key) {
            comma();
            quote(key);
            out.append(':');
            needsComma = false;
            return this;
        }

        void string(String s) {
            comma();
            quote(s);
            needsComma = true;
        }

        void number(double v) {
            comma();
            if (!Double.isFinite(v)) {
                out.append("null");
            } else if (v == Math.rint(v) && Math.abs(v) < 1e15) {
                out.append((long) v);
            } else {
                out.append(v);
            }
            needsComma = true;
        }

        void nothing() {
            comma();
            out.append("null");
            needsComma = true;
        }

        String text() {
            return out.toString();
        }

        private void comma() {
            if (needsComma) {
                out.append(',');
            }
        }

        private void quote(String s) {
            out.append('"');
            for (char ch : s.toCharArray()) {
                switch (ch) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    default -> {
                        if (ch < 0x20) {
                            out.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
                        } else {
                            out.append(ch);
                        }
                    }
                }
            }
            out.append('"');
        }
    }
}
