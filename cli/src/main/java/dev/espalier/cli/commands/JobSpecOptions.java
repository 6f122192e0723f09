package dev.espalier.cli.commands;

import dev.espalier.engine.job.JobExecutors;
import dev.espalier.engine.job.JobSpecs;
import dev.espalier.engine.job.RecipeJob;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RecipeStage;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** What to prune and how, as {@code prune} and {@code submit} take it on the command line; builds a {@link JobSpec}. */
public final class JobSpecOptions {

    @Mixin
    JobInputOptions inputs;

    /** The method, or a recipe of several: exactly one is given. */
    static final class WhatToPrune {
        @Option(
                names = "--method",
                required = true,
                paramLabel = "<method>",
                converter = MethodConverter.class,
                completionCandidates = MethodNames.class,
                description = "${COMPLETION-CANDIDATES}.")
        PruneMethod method;

        @Option(
                names = "--recipe",
                required = true,
                paramLabel = "<stages>|<file>",
                description = "Instead of --method: stages run in order in one resumable run, each on the model the"
                        + " previous one exported, e.g. goa:0.2,alps:2:4 (method:sparsity or method:N:M, then"
                        + " :key=value settings of that stage), or a file with one such stage a line.")
        String recipe;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    WhatToPrune what = new WhatToPrune();

    @Option(
            names = "--sparsity",
            paramLabel = "<fraction>",
            description = "Fraction of weights (units, for structured methods) removed, in [0, 1) (default: 0.5).")
    Double sparsity;

    @Option(
            names = "--pattern",
            completionCandidates = PatternNames.class,
            converter = PatternConverter.class,
            paramLabel = "<pattern>",
            description = "${COMPLETION-CANDIDATES} (default: unstructured).")
    SparsityPattern pattern;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "<dir>",
            description =
                    "Folder the pruned model is written to: a new"
                            + " path, or an earlier Espalier output with --overwrite (anything else there is refused, never deleted).")
    Path output;

    @Option(
            names = "--overwrite",
            description = "Replace an earlier Espalier output at --out (only Espalier's own files: a"
                    + " folder holding anything else is refused).")
    boolean overwrite;

    @Option(
            names = "--method-option",
            paramLabel = "<key=value>",
            description = "A setting of the method or the pipeline, named as in the job spec's settings (repeatable).")
    Map<String, String> methodOptions = new LinkedHashMap<>();

    /** On / off, for {@code --recovery}. */
    enum Switch {
        on,
        off
    }

    @Option(
            names = "--recovery",
            paramLabel = "on|off",
            description =
                    "Structured methods and policy-gradient: refit each module by ridge least squares against the dense"
                            + " model before pruning it (default: on for goa, off for wanda-sp, flap, policy-gradient).")
    Switch recovery;

    @Option(
            names = "--export",
            paramLabel = "compact|masked-dense",
            description =
                    "Structured methods: write physically smaller matrices (compact, read by Espalier) or the dense shapes with "
                            + "zeros, which stock Hugging Face loaders read (masked-dense) (default: compact).")
    String export;

    /** How the unstructured methods spread the sparsity over the layers, for {@code --layer-sparsity}. */
    enum LayerSparsity {
        uniform(UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_UNIFORM),
        owl(UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_OWL);

        final UnstructuredSettings.LayerSparsity proto;

        LayerSparsity(UnstructuredSettings.LayerSparsity proto) {
            this.proto = proto;
        }
    }

    @Option(
            names = "--layer-sparsity",
            paramLabel = "uniform|owl",
            converter = LayerSparsityConverter.class,
            description =
                    "Unstructured methods: every layer at --sparsity (uniform), or OWL's per-layer rates, averaging"
                            + " --sparsity, from the dense model's outlier ratios (owl; --method-option owl_m=5,"
                            + " owl_lambda=0.08) (default: uniform).")
    LayerSparsity layerSparsity;

    /** What policy-gradient pruning starts from, for {@code --init}. */
    enum PolicyInit {
        wanda_sp(PolicyGradientSettings.Init.INIT_WANDA_SP),
        goa(PolicyGradientSettings.Init.INIT_GOA),
        random(PolicyGradientSettings.Init.INIT_RANDOM),
        uniform(PolicyGradientSettings.Init.INIT_UNIFORM);

        final PolicyGradientSettings.Init proto;

        PolicyInit(PolicyGradientSettings.Init proto) {
            this.proto = proto;
        }
    }

    @Option(
            names = "--init",
            paramLabel = "wanda-sp|goa|random|uniform",
            converter = PolicyInitConverter.class,
            description =
                    "policy-gradient: what the keep-probabilities start from: a metric (wanda-sp, goa), seeded random"
                            + " scores (random) or the keep ratio for every unit (uniform) (default: wanda-sp).")
    PolicyInit init;

    @Option(names = "--steps", paramLabel = "N", description = "policy-gradient: learning steps (default: 1000).")
    Integer steps;

    @Option(
            names = "--rollouts-in-flight",
            paramLabel = "K",
            description =
                    "policy-gradient: rollout passes (one calibration sequence under one mask) in the pipeline at once (default: 2).")
    Integer rolloutsInFlight;

    /** Reads "owl" as {@link LayerSparsity#owl}. */
    static final class LayerSparsityConverter implements ITypeConverter<LayerSparsity> {
        @Override
        public LayerSparsity convert(String value) {
            try {
                return LayerSparsity.valueOf(value.trim().toLowerCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(
                        "--layer-sparsity must be uniform or owl, got '" + value + "'");
            }
        }
    }

    /** Reads "wanda-sp" as {@link PolicyInit#wanda_sp}. */
    static final class PolicyInitConverter implements ITypeConverter<PolicyInit> {
        @Override
        public PolicyInit convert(String value) {
            try {
                return PolicyInit.valueOf(value.trim().toLowerCase(Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(
                        "--init must be wanda-sp, goa, random or uniform, got '" + value + "'");
            }
        }
    }

    /**
     * The spec these options describe, paths made absolute and the flags read into the method's typed settings;
     * IllegalArgumentException naming the bad option (and {@link JobSpecs#validate}'s problems).
     */
    public JobSpec toJobSpec() {
        JobSpec.Builder spec = inputs.toSpec().setOutput(absolute(output)).setOverwriteOutput(overwrite);
        if (what.recipe != null) {
            return recipeSpec(spec);
        }
        PruneMethod method = what.method;
        spec.setMethod(method)
                .setSparsity(sparsity == null ? 0.5 : sparsity)
                .setPattern(pattern == null ? SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED : pattern);
        methodOptions.forEach((key, value) -> MethodOptions.apply(spec, method, key, value));
        JobSpecs.Family family = JobSpecs.familyOf(method);
        String label = PruneMethods.label(method);
        if (export != null) {
            if (family != JobSpecs.Family.STRUCTURED) {
                throw new IllegalArgumentException(
                        "--export " + export + " applies to the structured methods (wanda-sp, flap, goa); " + label
                                + " keeps the dense shapes anyway");
            }
            MethodOptions.apply(spec, method, "export", export);
        }
        if (layerSparsity != null) {
            if (family != JobSpecs.Family.UNSTRUCTURED) {
                throw new IllegalArgumentException("--layer-sparsity " + layerSparsity
                        + " applies to the unstructured methods (magnitude, wanda, sparsegpt, alps), not to " + label);
            }
            spec.getUnstructuredBuilder().setLayerSparsity(layerSparsity.proto);
        }
        if (recovery != null) {
            switch (family) {
                case STRUCTURED -> spec.getStructuredBuilder().setRecovery(recovery == Switch.on);
                case POLICY_GRADIENT -> spec.getPolicyGradientBuilder().setRecovery(recovery == Switch.on);
                default ->
                    throw new IllegalArgumentException("--recovery applies to the structured methods (wanda-sp, flap,"
                            + " goa) and policy-gradient, not to " + label);
            }
        }
        if (init != null || steps != null || rolloutsInFlight != null) {
            if (family != JobSpecs.Family.POLICY_GRADIENT) {
                throw new IllegalArgumentException(
                        (init != null ? "--init" : steps != null ? "--steps" : "--rollouts-in-flight")
                                + " applies to policy-gradient, not to " + label);
            }
            PolicyGradientSettings.Builder pg = spec.getPolicyGradientBuilder();
            if (init != null) {
                pg.setInit(init.proto);
            }
            if (steps != null) {
                pg.setSteps(steps);
            }
            if (rolloutsInFlight != null) {
                pg.setRolloutsInFlight(rolloutsInFlight);
            }
        }
        JobSpecs.validate(spec.build());
        return spec.build();
    }

    /** The recipe's spec: its first stage as the spec's own method, the others as next stages. */
    private JobSpec recipeSpec(JobSpec.Builder spec) {
        List<String> given = new ArrayList<>();
        for (Object[] flag : new Object[][] {
            {"--sparsity", sparsity},
            {"--pattern", pattern},
            {"--recovery", recovery},
            {"--export", export},
            {"--init", init},
            {"--steps", steps},
            {"--rollouts-in-flight", rolloutsInFlight},
            {"--method-option", methodOptions.isEmpty() ? null : methodOptions}
        }) {
            if (flag[1] != null) {
                given.add((String) flag[0]);
            }
        }
        if (!given.isEmpty()) {
            throw new IllegalArgumentException("--recipe carries each stage's method, target and settings; "
                    + String.join(", ", given) + " cannot be given with it (write a stage's settings as"
                    + " method:target:key=value, e.g. goa:0.2:recovery=off)");
        }
        List<RecipeStage> stages = RecipeSyntax.parse(what.recipe);
        RecipeJob.withStage(spec, stages.getFirst()).addAllNextStages(stages.subList(1, stages.size()));
        JobSpecs.validate(spec.build());
        return spec.build();
    }

    /**
     * Throws IllegalArgumentException naming the first input file of {@code spec} that does not exist here, or
     * DataFormatException when a --calib-range / --eval-range does not fit its file.
     */
    public static void checkInputsExist(JobSpec spec) {
        List<String> inputs = new ArrayList<>(List.of(spec.getModel(), spec.getTokenizer()));
        if (!spec.getCalibration().equals(JobSpecs.SELF_CALIBRATION)) {
            inputs.add(spec.getCalibration());
        }
        inputs.addAll(spec.getEvalDataList());
        if (spec.getZeroShot().getTasksCount() > 0) {
            inputs.add(spec.getZeroShot().getTaskData());
        }
        spec.getZeroShot().getTaskFilesList().forEach(f -> inputs.add(f.getPath()));
        for (String input : inputs) {
            if (!input.isEmpty() && !Files.exists(Path.of(input))) {
                throw new IllegalArgumentException(input + ": no such file or folder");
            }
        }
        JobExecutors.checkRanges(spec);
    }

    private static String absolute(Path path) {
        return path.toAbsolutePath().normalize().toString();
    }

    /** Reads "wanda-sp" (or "WANDA_SP") as a {@link PruneMethod}. */
    static final class MethodConverter implements ITypeConverter<PruneMethod> {
        @Override
        public PruneMethod convert(String value) {
            try {
                return JobSpecs.methodOf(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** The method names the command line accepts (from the protocol's enum). */
    static final class MethodNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return JobSpecs.methodNames().iterator();
        }
    }

    /** The sparsity patterns the command line accepts (from the protocol's enum). */
    static final class PatternNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return JobSpecs.patternNames().iterator();
        }
    }

    /** Reads "2:4" as {@link SparsityPattern#SPARSITY_PATTERN_2_4}. */
    static final class PatternConverter implements ITypeConverter<SparsityPattern> {
        @Override
        public SparsityPattern convert(String value) {
            try {
                return JobSpecs.patternOf(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
