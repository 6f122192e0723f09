package dev.espalier.engine.runtime.node;

import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** Checks of a {@link JobSpec} before it is queued, and the names of its values as the command line spells them. */
public final class JobSpecs {
    /** The sparsity patterns a spec may ask for. */
    public static final Set<String> PATTERNS = Set.of("unstructured", "2:4", "4:8");
    /** The calibration value that asks for data-free calibration on text the model generates. */
    public static final String SELF_CALIBRATION = "self";

    private JobSpecs() {}

    /** The problems of {@code spec}, one line each (empty when it may be queued). Paths must be absolute. */
    public static List<String> problems(JobSpec spec) {
        List<String> problems = new ArrayList<>();
        requirePath(problems, "model", spec.getModel(), true);
        requirePath(problems, "tokenizer", spec.getTokenizer(), false);
        requirePath(problems, "output", spec.getOutput(), true);
        if (!spec.getCalibration().equals(SELF_CALIBRATION)) {
            requirePath(problems, "calibration", spec.getCalibration(), false);
        }
        spec.getEvalDataList().forEach(file -> requirePath(problems, "eval_data", file, true));
        if (spec.getMethod() == PruneMethod.PRUNE_METHOD_UNSPECIFIED || spec.getMethod() == PruneMethod.UNRECOGNIZED) {
            problems.add("method is required (one of magnitude, wanda, sparsegpt, alps, wanda-sp, flap, goa, policy-gradient)");
        }
        if (!(spec.getSparsity() >= 0 && spec.getSparsity() < 1)) {
            problems.add("sparsity must be in [0, 1), got " + spec.getSparsity());
        }
        if (!PATTERNS.contains(spec.getPattern())) {
            problems.add("pattern must be unstructured, 2:4 or 4:8, got '" + spec.getPattern() + "'");
        }
        if (spec.getCalibrationSamples() < 0 || spec.getCalibrationSeqlen() < 0 || spec.getEvalMaxTokens() < 0) {
            problems.add("calibration_samples, calibration_seqlen and eval_max_tokens must be ≥ 0");
        }
        return problems;
    }

    /** Throws IllegalArgumentException listing {@link #problems} when there are any. */
    public static void validate(JobSpec spec) {
        List<String> problems = problems(spec);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid job spec: " + String.join("; ", problems));
        }
    }

    private static void requirePath(List<String> problems, String field, String value, boolean required) {
        if (value.isEmpty()) {
            if (required) {
                problems.add(field + " is required");
            }
        } else if (!Path.of(value).isAbsolute()) {
            problems.add(field + " must be an absolute path, got '" + value + "'");
        }
    }


    /** The method named {@code label} ("wanda-sp", "WANDA_SP"); IllegalArgumentException listing the names otherwise. */
    public static PruneMethod methodOf(String label) {
        String wanted = label.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (PruneMethod method : PruneMethod.values()) {
            if (method != PruneMethod.UNRECOGNIZED && method != PruneMethod.PRUNE_METHOD_UNSPECIFIED
                    && PruneMethods.label(method).equals(wanted)) {
                return method;
            }
        }
        throw new IllegalArgumentException("unknown method '" + label
                + "'; expected one of magnitude, wanda, sparsegpt, alps, wanda-sp, flap, goa, policy-gradient");
    }
}
