package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;

/**
 * Wanda (Sun et al., 2023): the score of W[i][j] is |W[i][j]| · ||X_j||₂, the input feature's norm over every
 * calibration token, and weights are compared within each output row (unstructured) or within each N:M group.
 */
public final class WandaPruner implements LinearPruner {
    private double[] squaredNorms; // (in_features): Σ over tokens of x_j²
    private long tokens;

    @Override
    public void addBatch(Tensor x, TensorOps ops) {
        int n = x.rows();
        int d = x.cols();
        if (squaredNorms == null) {
            squaredNorms = new double[d];
        } else if (squaredNorms.length != d) {
            throw new IllegalArgumentException(
                    "batch of width " + d + " after batches of width " + squaredNorms.length);
        }
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < d; c++) {
                double v = x.get(r, c);
                squaredNorms[c] += v * v;
            }
        }
        tokens += n;
    }

    /** Tokens accumulated so far. */
    public long tokens() {
        return tokens;
    }

    @Override
    public PruneOutcome prune(Tensor weight, SparsityPattern pattern, double sparsity, TensorOps ops) {
        if (squaredNorms == null) {
            throw new IllegalStateException("Wanda needs calibration batches before pruning");
        }
        int rows = weight.rows();
        int cols = weight.cols();
        float[] scores = LinearPruner.absoluteValues(weight);
        for (int c = 0; c < cols; c++) {
            float norm = (float) Math.sqrt(squaredNorms[c]);
            for (int r = 0; r < rows; r++) {
                scores[r * cols + c] *= norm;
            }
        }
        boolean[] keep = MaskSelection.select(scores, rows, cols, pattern, sparsity, MaskSelection.Scope.ROW);
        return LinearPruner.applyMask(weight, keep);
    }
}
