package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;

/**
 * Magnitude pruning: drops the weights of smallest |W| over the whole matrix (unstructured, as in the magnitude
 * baseline of the Wanda code) or within each N:M group. Uses no calibration data.
 */
public final class MagnitudePruner implements LinearPruner {

    @Override
    public void addBatch(Tensor x, TensorOps ops) {
        // magnitude pruning ignores the inputs
    }

    @Override
    public PruneOutcome prune(Tensor weight, SparsityPattern pattern, double sparsity, TensorOps ops) {
        float[] scores = LinearPruner.absoluteValues(weight);
        boolean[] keep = MaskSelection.select(
                scores, weight.rows(), weight.cols(), pattern, sparsity, MaskSelection.Scope.MATRIX, ops);
        return LinearPruner.applyMask(weight, keep, ops);
    }
}
