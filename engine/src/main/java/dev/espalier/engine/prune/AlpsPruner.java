package dev.espalier.engine.prune;

import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;

/**
 * ALPS as a {@link LinearPruner}: {@link #addBatch} accumulates the raw Gram {@code G = Σ xᵀx} in f32 (as the
 * official code) and counts the tokens; {@link #prune} solves with {@link Alps#prune} and then frees the Gram, so a
 * pruner prunes once; {@link #close} frees it too. A pruner built over a shared Gram (the layer's, for maps that read
 * the same input) neither adds to it nor frees it: its owner does.
 */
public final class AlpsPruner implements LinearPruner, AutoCloseable {
    private final Alps.Options options;
    private GramStatistics
            statistics; // (in_features, in_features) Σ xᵀx; null before the first batch and after prune / close
    private final boolean shared; // statistics belong to the caller
    private Alps.Result lastResult;

    public AlpsPruner(Alps.Options options) {
        this.options = options;
        this.shared = false;
    }

    /** A pruner that solves over {@code sharedGram}, which the caller feeds and frees. */
    public AlpsPruner(Alps.Options options, GramStatistics sharedGram) {
        this.options = options;
        this.statistics = sharedGram;
        this.shared = true;
    }

    /** A pruner with the official defaults. */
    public AlpsPruner() {
        this(Alps.Options.defaults());
    }

    /** Adds {@code xᵀx} of a batch x (n, in_features) F32 to the Gram: {@code G += xᵀx}. */
    @Override
    public void addBatch(Tensor x, TensorOps ops) {
        x.requireRank(2);
        if (shared) {
            throw new IllegalStateException("AlpsPruner over a shared Gram: its owner adds the batches");
        }
        int d = x.cols();
        if (statistics == null) {
            if (lastResult != null) {
                throw new IllegalStateException("AlpsPruner: batch after prune; a pruner prunes once");
            }
            statistics = new GramStatistics(d);
        } else if (statistics.dim() != d) {
            throw new IllegalArgumentException("AlpsPruner: batch of width " + d + " after batches of width "
                    + statistics.dim() + "; expected the same input width");
        }
        statistics.add(x, ops);
    }

    /** Tokens accumulated so far. */
    public long tokens() {
        return statistics == null ? 0 : statistics.tokens();
    }

    /** The result of the last {@link #prune} (trace, objective, timing), or null before it. */
    public Alps.Result lastResult() {
        return lastResult;
    }

    /** Prunes {@code weight} (out_features, in_features) F32 in place with {@link Alps#prune}, then frees an own Gram. */
    @Override
    public PruneOutcome prune(Tensor weight, SparsityPattern pattern, double sparsity, TensorOps ops) {
        if (statistics == null) {
            throw new IllegalStateException("AlpsPruner: no calibration batches before prune; ALPS needs XᵀX");
        }
        pattern.validate(sparsity); // a bad request leaves the statistics in place
        try {
            lastResult = Alps.prune(weight, statistics.gram(), statistics.tokens(), pattern, sparsity, options, ops);
            return lastResult.outcome();
        } finally {
            close();
        }
    }

    /** Frees an own Gram (idempotent); a shared one is left to its owner. */
    @Override
    public void close() {
        if (statistics != null && !shared) {
            statistics.close();
            statistics = null;
        }
    }
}
