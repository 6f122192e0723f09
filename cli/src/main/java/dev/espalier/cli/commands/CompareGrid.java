package dev.espalier.cli.commands;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparsityPattern;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The cells of {@code espalier compare}: every method × pattern × sparsity that applies — unstructured patterns at each
 * sparsity, N:M patterns once (they fix the sparsity) and only for the unstructured methods — each a normal job whose
 * output and run directory live in a folder of its own under the comparison's folder.
 */
final class CompareGrid {
    private CompareGrid() {}

    /** One run of the grid; {@code dir} holds its {@code model/}, {@code run/} and {@code report.json}. */
    record Cell(String name, String method, String pattern, double sparsity, Path dir, JobSpec spec) {
        Path output() {
            return dir.resolve("model");
        }

        Path runDir() {
            return dir.resolve("run");
        }

        Path reportFile() {
            return dir.resolve("report.json");
        }

        Path jobIdFile() {
            return dir.resolve("job-id");
        }
    }

    /**
     * The cells of {@code methods} × {@code patterns} × {@code sparsities} over {@code base} (inputs without method,
     * sparsity or output), in that order, each validated; combinations that do not apply go to {@code skipped}, one
     * line each. IllegalArgumentException when no cell is left, or for a sparsity outside (0, 1).
     */
    static List<Cell> cells(
            JobSpec.Builder base,
            List<PruneMethod> methods,
            List<SparsityPattern> patterns,
            List<Double> sparsities,
            Path folder,
            List<String> skipped) {
        for (double s : sparsities) {
            if (!(s > 0 && s < 1)) {
                throw new IllegalArgumentException("--sparsities must be in (0, 1), got " + s);
            }
        }
        List<Cell> cells = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>();
        for (PruneMethod method : new LinkedHashSet<>(methods)) {
            String label = PruneMethods.label(method);
            for (SparsityPattern pattern : new LinkedHashSet<>(patterns)) {
                int[] nm = JobSpecs.nm(pattern);
                String patternLabel = JobSpecs.patternLabel(pattern);
                if (nm != null && JobSpecs.familyOf(method) != JobSpecs.Family.UNSTRUCTURED) {
                    skipped.add(label + " " + patternLabel + ": N:M applies to the unstructured methods only");
                    continue;
                }
                List<Double> levels = nm != null ? List.of(1.0 - (double) nm[0] / nm[1]) : sparsities;
                for (double sparsity : new LinkedHashSet<>(levels)) {
                    String name = label + "-" + (nm != null ? nm[0] + "of" + nm[1] : percent(sparsity));
                    if (!names.add(name)) {
                        continue;
                    }
                    Path dir = folder.resolve("cells").resolve(name);
                    JobSpec spec = base.clone()
                            .setMethod(method)
                            .setPattern(pattern)
                            .setSparsity(sparsity)
                            .setOutput(dir.resolve("model").toString())
                            .build();
                    JobSpecs.validate(spec);
                    cells.add(new Cell(name, label, patternLabel, sparsity, dir, spec));
                }
            }
        }
        if (cells.isEmpty()) {
            throw new IllegalArgumentException("no cell to run: " + String.join("; ", skipped));
        }
        return cells;
    }

    /** 0.5 → "50", 0.625 → "62.5". */
    static String percent(double sparsity) {
        double p = Math.round(sparsity * 1000) / 10.0;
        return p == Math.rint(p) ? Long.toString((long) p) : String.format(Locale.ROOT, "%.1f", p);
    }
}
