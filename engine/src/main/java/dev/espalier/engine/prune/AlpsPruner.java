package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;

/**
 * ALPS as a {@link LinearPruner}: {@link #addBatch} accumulates the raw Gram {@code G = Σ xᵀx} in f32 (as the
 * official code) and counts the tokens; {@link #prune} solves with {@link Alps#prune} and then frees the Gram, so a
 * pruner prunes once. The Gram lives in an arena of its own, also freed by {@link #close}.
 */
public final class AlpsPruner implements LinearPruner, AutoCloseable {
    private final Alps.Options options;
    private Arena arena; // owns gram; null before the first batch and after prune / close
    private Tensor gram; // (in_features, in_features) F32 Σ xᵀx over the calibration tokens
    private long tokens;
    private Alps.Result lastResult;

    public AlpsPruner(Alps.Options options) {
        this.options = options;
    }

    /** A pruner with the official defaults. */
    public AlpsPruner() {
        this(Alps.Options.defaults());
    }

    /** Adds {@code xᵀx} of a batch x (n, in_features) F32 to the Gram: {@code G += xᵀx}. */
    @Override
    public void addBatch(Tensor x, TensorOps ops) {
        x.requireRank(2);
        int d = x.cols();
        if (gram == null) {
            if (lastResult != null) {
                throw new IllegalStateException("AlpsPruner: batch after prune; a pruner prunes once");
            }
            arena = Arena.ofShared();
            gram = Tensor.allocate(arena, DType.F32, d, d);
        } else if (gram.rows() != d) {
            throw new IllegalArgumentException("AlpsPruner: batch of width " + d + " after batches of width "
                    + gram.rows() + "; expected the same input width");
        }
        ops.accumulateGram(x, 1f, gram);
        tokens += x.rows();
    }

    /** Tokens accumulated so far. */
    public long tokens() {
        return tokens;
    }

    /** The result of the last {@link #prune} (trace, objective, timing), or null before it. */
    public Alps.Result lastResult() {
        return lastResult;
    }

    /** Prunes {@code weight} (out_features, in_features) F32 in place with {@link Alps#prune}, then frees the Gram. */
    @Override
    public PruneOutcome prune(Tensor weight, SparsityPattern pattern, double sparsity, TensorOps ops) {
        if (gram == null) {
            throw new IllegalStateException("AlpsPruner: no calibration batches before prune; ALPS needs XᵀX");
        }
        pattern.validate(sparsity); // a bad request leaves the statistics in place
        try {
            lastResult = Alps.prune(weight, gram, tokens, pattern, sparsity, options, ops);
            return lastResult.outcome();
        } finally {
            close();
        }
    }

    /** Frees the Gram (idempotent). */
    @Override
    public void close() {
        if (arena != null) {
            arena.close();
            arena = null;
            gram = null;
        }
    }
}
