package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A pruning method for one linear map y = x·Wᵀ, in the shape of the wanda/SparseGPT code: statistics of the map's
 * inputs are accumulated batch by batch, then the weight is pruned in place. Instances are per linear map and
 * not thread-safe; batches must be added in a fixed order for results to be reproducible.
 */
public interface LinearPruner {

    /** Accumulates statistics of one batch of inputs x (n, in_features). */
    void addBatch(Tensor x, TensorOps ops);

    /** Prunes {@code weight} (out_features, in_features), F32 and writable, in place. */
    PruneOutcome prune(Tensor weight, SparsityPattern pattern, double sparsity, TensorOps ops);

    /**
     * What a prune did: zeros written out of the weights of the matrix, and the relative reconstruction error
     * ||XW − XŴ||² / ||XW||² on the calibration inputs when it was measured (NaN otherwise).
     */
    record PruneOutcome(long zeros, long total, double relativeError) {
        public PruneOutcome(long zeros, long total) {
            this(zeros, total, Double.NaN);
        }

        public double sparsity() {
            return total == 0 ? 0 : (double) zeros / total;
        }

        public PruneOutcome withRelativeError(double error) {
            return new PruneOutcome(zeros, total, error);
        }
    }

    /** The zeros of {@code weight} (out, in) F32, counted by tiles of rows on {@code ops}'s threads. */
    static PruneOutcome zerosOf(Tensor weight, TensorOps ops) {
        weight.requireDType(DType.F32);
        int rows = weight.rows();
        int cols = weight.cols();
        long stride = weight.rowStride();
        MemorySegment data = ops.shareable(weight.data());
        long[] zeros = new long[(rows + RowTiles.ROWS - 1) / RowTiles.ROWS]; // per tile of rows
        RowTiles.run(ops, rows, RowTiles.ROWS, (r0, r1) -> {
            float[] row = new float[cols];
            long n = 0;
            for (int r = r0; r < r1; r++) {
                MemorySegment.copy(data, ValueLayout.JAVA_FLOAT_UNALIGNED, r * stride * 4, row, 0, cols);
                for (float v : row) {
                    if (v == 0f) {
                        n++;
                    }
                }
            }
            zeros[r0 / RowTiles.ROWS] = n;
        });
        return new PruneOutcome(Arrays.stream(zeros).sum(), (long) rows * cols);
    }

    /**
     * Zeros the weights whose keep flag is false and counts the zeros; returns the outcome. Rows are tasks on
     * {@code ops}'s threads, each read and written in bulk.
     */
    static PruneOutcome applyMask(Tensor weight, boolean[] keep, TensorOps ops) {
        weight.requireDType(DType.F32);
        int rows = weight.rows();
        int cols = weight.cols();
        long stride = weight.rowStride();
        int tasks = Math.max(1, Math.min(rows, 64));
        long[] zeros = new long[tasks];
        MemorySegment data = ops.shareable(weight.data());
        ops.forEachTask(tasks, t -> {
            float[] row = new float[cols];
            for (int r = (int) ((long) rows * t / tasks); r < (long) rows * (t + 1) / tasks; r++) {
                MemorySegment.copy(data, ValueLayout.JAVA_FLOAT_UNALIGNED, r * stride * 4, row, 0, cols);
                for (int c = 0; c < cols; c++) {
                    if (!keep[r * cols + c]) {
                        row[c] = 0f;
                    }
                    if (row[c] == 0f) {
                        zeros[t]++;
                    }
                }
                MemorySegment.copy(row, 0, data, ValueLayout.JAVA_FLOAT_UNALIGNED, r * stride * 4, cols);
            }
        });
        return new PruneOutcome(Arrays.stream(zeros).sum(), (long) rows * cols);
    }

    /**
     * The outcome of a matrix read back from its checkpoint, for a layer pruned before a resume: its zeros plus the
     * entries structured pruning removed ({@code dense} has more than {@code pruned}), over {@code dense}'s entries.
     * Equals the outcome measured when the layer was pruned, but for the reconstruction error (not kept).
     */
    public static PruneOutcome outcomeOf(Tensor dense, Tensor pruned) {
        long zeros = (long) dense.rows() * dense.cols() - (long) pruned.rows() * pruned.cols();
        for (int r = 0; r < pruned.rows(); r++) {
            for (int c = 0; c < pruned.cols(); c++) {
                if (pruned.get(r, c) == 0f) {
                    zeros++;
                }
            }
        }
        return new PruneOutcome(zeros, (long) dense.rows() * dense.cols());
    }

    /** Row r of a matrix (any float dtype, any row stride), widened into {@code dst} (its width long). */
    static void readRow(Tensor m, int r, float[] dst) {
        m.rowSlice(r, r + 1).reshape(dst.length).copyInto(Tensor.of(MemorySegment.ofArray(dst), DType.F32, dst.length));
    }

    /** |W| as a flat score array (out · in). */
    static float[] absoluteValues(Tensor weight) {
        float[] w = weight.toFloatArray();
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.abs(w[i]);
        }
        return w;
    }
}
