package dev.espalier.engine.prune;

import dev.espalier.protocol.v1.PruneMethod;
import java.util.Locale;
import java.util.Map;

/** The unstructured / N:M methods by their protocol name, with their settings from a job's method options. */
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

    /** "wanda" for PRUNE_METHOD_WANDA. */
    public static String label(PruneMethod method) {
        return method.name().replace("PRUNE_METHOD_", "").toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
