package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.Map;

/**
 * One independent solve of a layer: a linear map's weight and the pruner holding its input statistics. The weight
 * is the home worker's writable tensor, pruned in place by whichever worker solves it (workers of one host share
 * memory; each map's tensor is written by exactly one solver). {@code gram}, the layer's Gram of the map's input
 * (read-only, possibly shared with other maps), is null when reconstruction errors are not measured and the method
 * needs none; when present, the relative reconstruction error of the pruned map is measured from it.
 */
public record MatrixProblem(
        int layer,
        LinearModule module,
        Tensor weight,
        LinearPruner pruner,
        GramStatistics gram,
        SparsityPattern pattern,
        double sparsity)
        implements LayerProblem {

    @Override
    public String name() {
        return module.hfName();
    }

    @Override
    public Map<LinearModule, LinearPruner.PruneOutcome> solve(TensorOps ops) {
        try (Arena scratch = Arena.ofConfined()) {
            Tensor original = gram == null ? null : weight.copyAs(scratch, DType.F32);
            LinearPruner.PruneOutcome outcome = pruner.prune(weight, pattern, sparsity, ops);
            if (original != null) {
                outcome = outcome.withRelativeError(ReconstructionError.relative(original, weight, gram.gram(), ops));
            }
            return Map.of(module, outcome);
        }
    }
}
