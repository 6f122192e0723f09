package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;

/**
 * SparseGPT as a {@link LinearPruner}: {@link #addBatch} sums the inputs' Gram matrix into a {@link GramStatistics}
 * (created at the first batch, sized by its width), {@link #prune} runs {@link SparseGpt#prune} on it. Like the
 * official code, which deletes H once the layer is pruned, the Gram is freed after {@link #prune} returns (or
 * throws); a second prune is an error. {@link #close()} frees it without pruning.
 */
public final class SparseGptPruner implements LinearPruner, AutoCloseable {
    private final SparseGpt.Options options;
    private GramStatistics statistics; // (in, in) Σ xᵀx; null before the first batch and after prune/close
    private boolean consumed;

    /** A pruner with the given solver options ({@link SparseGpt.Options#defaults()} for the paper's). */
    public SparseGptPruner(SparseGpt.Options options) {
        this.options = options;
    }

    /** A pruner with the paper's defaults: blockSize 128, percDamp 0.01. */
    public SparseGptPruner() {
        this(SparseGpt.Options.defaults());
    }

    public SparseGpt.Options options() {
        return options;
    }

    /** {@inheritDoc} H += xᵀx on {@code ops}. */
    @Override
    public void addBatch(Tensor x, TensorOps ops) {
        requireNotConsumed();
        if (statistics == null) {
            statistics = new GramStatistics(x.cols());
        }
        statistics.add(x, ops);
    }

    /** Tokens accumulated so far (0 before the first batch and after the statistics are freed). */
    public long tokens() {
        return statistics == null ? 0 : statistics.tokens();
    }

    /** {@inheritDoc} See {@link SparseGpt#prune}; frees the Gram afterwards. */
    @Override
    public PruneOutcome prune(Tensor weight, SparsityPattern pattern, double sparsity, TensorOps ops) {
        requireNotConsumed();
        if (statistics == null) {
            throw new IllegalStateException("SparseGPT needs calibration batches before pruning");
        }
        try {
            return SparseGpt.prune(weight, statistics.gram(), statistics.tokens(), pattern, sparsity, options, ops);
        } finally {
            close();
            consumed = true;
        }
    }

    /** Frees the accumulated Gram; idempotent. */
    @Override
    public void close() {
        if (statistics != null) {
            statistics.close();
            statistics = null;
        }
    }

    private void requireNotConsumed() {
        if (consumed) {
            throw new IllegalStateException("SparseGPT pruner already pruned its matrix; its statistics are freed");
        }
    }
}
