package dev.espalier.engine.prune.structured;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;

/**
 * The raw cross Gram C = Σ x̃ᵀx between the inputs a linear map sees in the pruned stream, x̃ (n, prunedDim), and
 * the same tokens' inputs in the dense stream, x (n, denseDim), summed over batches (the companion of
 * {@link dev.espalier.engine.prune.GramStatistics} for {@link RidgeRefit}). Unscaled; F32 matrix in an arena this object
 * owns, freed by {@link #close()}. Not thread-safe.
 */
public final class CrossGramStatistics implements AutoCloseable {
    private final int prunedDim;
    private final int denseDim;
    private final Arena arena;
    private final Tensor cross; // (prunedDim, denseDim) F32: Σ x̃ᵀx
    private long tokens;
    private boolean closed;

    public CrossGramStatistics(int prunedDim, int denseDim) {
        if (prunedDim <= 0 || denseDim <= 0) {
            throw new IllegalArgumentException(
                    "CrossGramStatistics: widths must be positive, got " + prunedDim + " and " + denseDim);
        }
        this.prunedDim = prunedDim;
        this.denseDim = denseDim;
        this.arena = Arena.ofShared();
        this.cross = Tensor.allocate(arena, DType.F32, prunedDim, denseDim);
    }

    /** {@code C += x̃ᵀx} by one GEMM on {@code ops}; x̃ (n, prunedDim) and x (n, denseDim) hold the same n tokens. */
    public void add(Tensor pruned, Tensor dense, TensorOps ops) {
        requireOpen();
        if (pruned.rank() != 2
                || dense.rank() != 2
                || pruned.cols() != prunedDim
                || dense.cols() != denseDim
                || pruned.rows() != dense.rows()) {
            throw new IllegalArgumentException("CrossGramStatistics.add: expected (n, " + prunedDim + ") and (n, "
                    + denseDim + "), got " + pruned + " and " + dense);
        }
        ops.gemm(true, false, 1f, pruned, dense, 1f, cross);
        tokens += pruned.rows();
    }

    /** C (prunedDim, denseDim) F32; a view the caller must not keep past {@link #close()}. */
    public Tensor cross() {
        requireOpen();
        return cross;
    }

    public long tokens() {
        return tokens;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("CrossGramStatistics was closed");
        }
    }
}
