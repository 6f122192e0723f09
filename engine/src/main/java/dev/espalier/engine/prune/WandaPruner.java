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
        float[] row = new float[d];
        for (int r = 0; r < n; r++) {
            LinearPruner.readRow(x, r, row);
            for (int c = 0; c < d; c++) {
                double v = row[c];
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
        float[] norms = new float[cols];
        for (int c = 0; c < cols; c++) {
            norms[c] = (float) Math.sqrt(squaredNorms[c]);
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                scores[r * cols + c] *= norms[c];
            }
        }
        boolean[] keep = MaskSelection.select(scores, rows, cols, pattern, sparsity, MaskSelection.Scope.ROW, ops);
        return LinearPruner.applyMask(weight, keep, ops);
    }
}
