package dev.espalier.engine.prune.methods;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.Alps;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.MethodOptions;
import dev.espalier.engine.prune.PruningMethod;
import dev.espalier.engine.prune.SolveOrder;
import dev.espalier.engine.prune.SparseGpt;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.engine.prune.UnstructuredMethod;
import dev.espalier.engine.prune.structured.StructuredMethod;
import dev.espalier.protocol.v1.PruneMethod;
import java.util.Locale;
import java.util.Map;

/**
 * The method registry: every pruning method (unstructured / N:M of {@code prune}, structured of {@code prune.structured})
 * by its protocol name, with its settings from a job's method options. Above both packages, so neither depends on it.
 */
public final class PruneMethods {
    private PruneMethods() {}

    /**
     * The method {@code method} configured by {@code options} (names as in the methods' Options records, e.g.
     * {@code blocksize}, {@code percdamp} for SparseGPT, {@code rho}, {@code iterations} for ALPS); unknown names are
     * refused so a typo does not go unnoticed.
     */
    public static PruningMethod linear(PruneMethod method, Map<String, String> options) {
        MethodOptions o = new MethodOptions(options);
        PruningMethod result = switch (method) {
            case PRUNE_METHOD_MAGNITUDE -> PruningMethod.magnitude();
            case PRUNE_METHOD_WANDA -> PruningMethod.wanda();
            case PRUNE_METHOD_SPARSEGPT -> {
                SparseGpt.Options d = SparseGpt.Options.defaults();
                yield PruningMethod.sparseGpt(new SparseGpt.Options(o.integer("blocksize", d.blockSize()), o.real("percdamp", d.percDamp())));
            }
            case PRUNE_METHOD_ALPS -> {
                Alps.Options d = Alps.Options.defaults();
                yield PruningMethod.alps(new Alps.Options(o.real("rho", d.rho()), o.integer("iterations", d.maxIterations()),
                        o.integer("update_interval", d.updateInterval()), o.integer("switch_iteration", d.switchIteration()),
                        o.real("stop_rho", d.stopRho()), o.integer("cg_iterations", d.cgIterations()),
                        o.real("cg_tolerance", d.cgTolerance()), o.real("damp", d.dampFraction()), o.real("fixed_rho", d.fixedRho())));
            }
            default -> throw new UnsupportedOperationException("method " + label(method) + " is not available in this build");
        };
        o.requireAllUsed(label(method));
        return result;
    }

    /** The structured kind of {@code method}, or null for the unstructured / N:M methods. */
    public static StructuredMethod.Kind structuredKind(PruneMethod method) {
        return switch (method) {
            case PRUNE_METHOD_WANDA_SP -> StructuredMethod.Kind.WANDA_SP;
            case PRUNE_METHOD_FLAP -> StructuredMethod.Kind.FLAP;
            case PRUNE_METHOD_GOA -> StructuredMethod.Kind.GOA;
            default -> null;
        };
    }

    /**
     * The layer pipeline's method for a job: structured methods (the fraction of prunable parameters removed, options
     * of {@link StructuredMethod#of}; {@code dataFree}: calibrated on the model's own text) or the unstructured / N:M ones ({@link #linear}) in a solve order; {@code config}
     * may be null to only validate.
     */
    public static LayerMethod layerMethod(PruneMethod method, Map<String, String> options, String pattern, double sparsity,
                                          boolean dataFree, LlamaConfig config) {
        StructuredMethod.Kind kind = structuredKind(method);
        if (kind != null) {
            if (!pattern.isEmpty() && !pattern.equals("unstructured")) {
                throw new IllegalArgumentException("--pattern " + pattern + " does not apply to " + label(method)
                        + ": structured methods remove whole heads and channels (--sparsity is the fraction of prunable parameters)");
            }
            return StructuredMethod.of(kind, config, sparsity, options, dataFree);
        }
        SparsityPattern p = SparsityPattern.parse(pattern);
        double s = p.validate(p.isNm() && sparsity == 0 ? Double.NaN : sparsity);
        Map<String, String> linearOptions = new java.util.HashMap<>(options);
        String order = linearOptions.getOrDefault("solve_order", "shared");
        String errors = linearOptions.getOrDefault("reconstruction_error", "1");
        return new UnstructuredMethod(linear(method, linearOptions), p, s, SolveOrder.parse(order), !errors.trim().equals("0"));
    }

    /** "wanda" for PRUNE_METHOD_WANDA. */
    public static String label(PruneMethod method) {
        return method.name().replace("PRUNE_METHOD_", "").toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
