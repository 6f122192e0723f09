package dev.espalier.cli.commands;

import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.job.RecipeJob;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RecipeStage;
import dev.espalier.protocol.v1.SparsityPattern;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code --recipe} read into stages: {@code goa:0.2,alps:2:4} — stages separated by commas, each
 * {@code method:target[:key=value…]} with the target a fraction ({@code 0.2}) or an N:M pattern ({@code 2:4}) and the
 * settings named as for {@code --method-option} — or the path of a file with one such stage a line ({@code #} starts
 * a comment).
 */
final class RecipeSyntax {
    private RecipeSyntax() {}

    /** The stages of {@code recipe}; IllegalArgumentException naming the stage and what was wrong. */
    static List<RecipeStage> parse(String recipe) {
        List<String> stages = new ArrayList<>();
        Path file = Path.of(recipe.trim());
        if (!recipe.contains(",") && Files.isRegularFile(file)) {
            try {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    int hash = line.indexOf('#');
                    String stage = (hash >= 0 ? line.substring(0, hash) : line).strip();
                    if (!stage.isEmpty()) {
                        stages.add(stage);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("--recipe " + file + ": " + e.getMessage(), e);
            }
        } else {
            for (String stage : recipe.split(",", -1)) {
                stages.add(stage.strip());
            }
        }
        if (stages.size() < 2) {
            throw new IllegalArgumentException("--recipe needs at least two stages (method:target,method:target, e.g."
                    + " goa:0.2,alps:2:4), got \"" + recipe + "\"; a single stage is --method with --sparsity");
        }
        List<RecipeStage> out = new ArrayList<>();
        for (int k = 0; k < stages.size(); k++) {
            out.add(stage(stages.get(k), k + 1));
        }
        return out;
    }

    private static RecipeStage stage(String text, int number) {
        String where = "--recipe stage " + number + " \"" + text + "\": ";
        String[] parts = text.split(":", -1);
        if (parts.length < 2 || parts[0].isBlank() || parts[1].isBlank()) {
            throw new IllegalArgumentException(
                    where + "expected method:sparsity or method:N:M (e.g. goa:0.2, alps:2:4)");
        }
        PruneMethod method;
        try {
            method = JobSpecs.methodOf(parts[0].strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + e.getMessage(), e);
        }
        JobSpec.Builder spec = JobSpec.newBuilder().setMethod(method);
        int next;
        if (parts.length >= 3 && isInteger(parts[1]) && isInteger(parts[2])) {
            try {
                SparsityPattern pattern = JobSpecs.patternOf(parts[1].strip() + ":" + parts[2].strip());
                spec.setPattern(pattern).setSparsity(0);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + e.getMessage(), e);
            }
            next = 3;
        } else {
            try {
                spec.setSparsity(Double.parseDouble(parts[1].strip()))
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        where + "the target must be a fraction in [0, 1) or N:M, got \"" + parts[1] + "\"", e);
            }
            next = 2;
        }
        for (int i = next; i < parts.length; i++) {
            int eq = parts[i].indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(where + "settings are key=value, got \"" + parts[i] + "\"");
            }
            try {
                MethodOptions.apply(spec, method, parts[i].substring(0, eq), parts[i].substring(eq + 1));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + e.getMessage(), e);
            }
        }
        return RecipeJob.stageOf(spec.build());
    }

    private static boolean isInteger(String s) {
        return s.strip().matches("\\d+");
    }
}
