package dev.espalier.engine.prune;

import dev.espalier.protocol.v1.PruneMethod;
import java.util.function.Supplier;

/** The unstructured / N:M methods by their protocol name, as suppliers of per-matrix {@link LinearPruner}s. */
public final class PruneMethods {
    private PruneMethods() {}

    public static Supplier<LinearPruner> linear(PruneMethod method) {
        return switch (method) {
            case PRUNE_METHOD_MAGNITUDE -> MagnitudePruner::new;
            case PRUNE_METHOD_WANDA -> WandaPruner::new;
            default -> throw new UnsupportedOperationException("method " + label(method) + " is not available in this build");
        };
    }

    /** Whether the method needs calibration activations. */
    public static boolean needsCalibration(PruneMethod method) {
        return method != PruneMethod.PRUNE_METHOD_MAGNITUDE;
    }

    /** "wanda" for PRUNE_METHOD_WANDA. */
    public static String label(PruneMethod method) {
        return method.name().replace("PRUNE_METHOD_", "").toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
