package dev.espalier.engine.prune.methods;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.Alps;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.OwlAllocation;
import dev.espalier.engine.prune.PruningMethod;
import dev.espalier.engine.prune.SolveOrder;
import dev.espalier.engine.prune.SparseGpt;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.engine.prune.UnstructuredMethod;
import dev.espalier.engine.prune.structured.StructuredMethod;
import dev.espalier.protocol.v1.AlpsSettings;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparseGptSettings;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.util.Locale;

/** The pruning methods by their protocol name, configured by a job spec's typed settings (validated by JobSpecs). */
public final class PruneMethods {
    private PruneMethods() {}

    /**
     * The unstructured / N:M method {@code method} with its solver's settings from {@code settings}: unset fields take
     * the methods' defaults ({@link SparseGpt.Options#defaults()}, {@link Alps.Options#defaults()}).
     */
    public static PruningMethod linear(PruneMethod method, UnstructuredSettings settings) {
        return switch (method) {
            case PRUNE_METHOD_MAGNITUDE -> PruningMethod.magnitude();
            case PRUNE_METHOD_WANDA -> PruningMethod.wanda();
            case PRUNE_METHOD_SPARSEGPT -> PruningMethod.sparseGpt(sparseGptOptions(settings.getSparsegpt()));
            case PRUNE_METHOD_ALPS -> PruningMethod.alps(alpsOptions(settings.getAlps()));
            default ->
                throw new UnsupportedOperationException("method " + label(method) + " is not available in this build");
        };
    }

    /** SparseGPT's options: the set fields of {@code s}, the paper's defaults for the others. */
    public static SparseGpt.Options sparseGptOptions(SparseGptSettings s) {
        SparseGpt.Options d = SparseGpt.Options.defaults();
        return new SparseGpt.Options(
                s.hasBlocksize() ? s.getBlocksize() : d.blockSize(), s.hasPercdamp() ? s.getPercdamp() : d.percDamp());
    }

    /** ALPS's options: the set fields of {@code s}, the official defaults for the others. */
    public static Alps.Options alpsOptions(AlpsSettings s) {
        Alps.Options d = Alps.Options.defaults();
        return new Alps.Options(
                s.hasRho() ? s.getRho() : d.rho(),
                s.hasIterations() ? s.getIterations() : d.maxIterations(),
                s.hasUpdateInterval() ? s.getUpdateInterval() : d.updateInterval(),
                s.hasSwitchIteration() ? s.getSwitchIteration() : d.switchIteration(),
                s.hasStopRho() ? s.getStopRho() : d.stopRho(),
                s.hasCgIterations() ? s.getCgIterations() : d.cgIterations(),
                s.hasCgTolerance() ? s.getCgTolerance() : d.cgTolerance(),
                s.hasDamp() ? s.getDamp() : d.dampFraction(),
                s.hasFixedRho() ? s.getFixedRho() : d.fixedRho());
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
     * The layer pipeline's method for a job spec (validated by JobSpecs): structured methods (the fraction of prunable
     * parameters removed, {@link StructuredMethod#of}; {@code dataFree}: calibrated on the model's own text) or the
     * unstructured / N:M ones ({@link #linear}) in a solve order; {@code config} may be null to only build the settings.
     */
    public static LayerMethod layerMethod(JobSpec spec, boolean dataFree, LlamaConfig config) {
        PruneMethod method = spec.getMethod();
        StructuredMethod.Kind kind = structuredKind(method);
        if (kind != null) {
            return StructuredMethod.of(
                    kind, config, spec.getSparsity(), spec.getStructured(), dataFree, spec.getSeed());
        }
        UnstructuredSettings u = spec.getUnstructured();
        SparsityPattern p = SparsityPattern.of(spec.getPattern());
        double s = p.validate(p.isNm() && spec.getSparsity() == 0 ? Double.NaN : spec.getSparsity());
        SolveOrder order = u.getSolveOrder() == UnstructuredSettings.SolveOrder.SOLVE_ORDER_SEQUENTIAL
                ? SolveOrder.SEQUENTIAL
                : SolveOrder.SHARED;
        OwlAllocation owl = u.getLayerSparsity() == UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_OWL
                ? new OwlAllocation(
                        u.hasOwlM() ? u.getOwlM() : OwlAllocation.DEFAULT_M,
                        u.hasOwlLambda() ? u.getOwlLambda() : OwlAllocation.DEFAULT_LAMBDA)
                : null;
        return new UnstructuredMethod(
                linear(method, u), p, s, order, !u.hasReconstructionError() || u.getReconstructionError(), owl);
    }

    /** "wanda" for PRUNE_METHOD_WANDA. */
    public static String label(PruneMethod method) {
        return method.name()
                .replace("PRUNE_METHOD_", "")
                .toLowerCase(Locale.ROOT)
                .replace('_', '-');
    }
}
