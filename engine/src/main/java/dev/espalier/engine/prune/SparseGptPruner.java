package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;

/**
 * SparseGPT as a {@link LinearPruner}: {@link #addBatch} sums the inputs' Gram matrix into a {@link GramStatistics}
 * (created at the first batch, sized by its width), {@link #prune} runs {@link SparseGpt#prune} on it. Like the
 * official code, which deletes H once the layer is pruned, the Gram is freed after {@link #prune} returns (or
 * throws); a second prune is an error. {@link #close()} frees it without pruning. A pruner built over a shared Gram
 * (the layer's, for maps that read the same input) neither adds to it nor frees it: its owner does.
 */
public final class SparseGptPruner implements LinearPruner, AutoCloseable {
    private final SparseGpt.Options options;
    private GramStatistics statistics; // (in, in) Σ xᵀx; null before the first batch and after prune/close
    private final boolean shared; // statistics belong to the caller
    private boolean consumed;

    /** A pruner that solves over {@code sharedGram}, which the caller feeds and frees. */
    public SparseGptPruner(SparseGpt.Options options, GramStatistics sharedGram) {
        this.options = options;
        this.statistics = sharedGram;
        this.shared = true;
    }

    /** A pruner with the given solver options ({@link SparseGpt.Options#defaults()} for the paper's). */
    public SparseGptPruner(SparseGpt.Options options) {
        this.options = options;
        this.shared = false;
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
        if (shared) {
            throw new IllegalStateException("SparseGPT pruner over a shared Gram: its owner adds the batches");
        }
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
            if (!shared) {
                close();
                consumed = true;
            }
        }
    }

    /** Frees the accumulated Gram; idempotent. */
    @Override
    public void close() {
        if (statistics != null && !shared) {
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
