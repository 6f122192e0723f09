package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;

/**
 * The raw Gram matrix of a linear map's calibration inputs, H = Σ xᵀx over every batch x (n, dim), and the number of
 * tokens (rows) it sums over. The sum is unscaled: the second-order solvers apply their own scaling (SparseGPT and
 * ALPS use (2 / tokens) · H, the Hessian of the squared reconstruction error averaged over tokens) when they read
 * {@link #gram()}; nothing here divides.
 *
 * <p>The (dim, dim) F32 matrix lives in an arena this object owns; {@link #close()} frees it, after which every
 * method but {@link #close()}, {@link #dim()} and {@link #tokens()} throws. Not thread-safe: add batches from one
 * thread at a time, in a fixed order, for reproducible sums.
 */
public final class GramStatistics implements AutoCloseable {
    private final int dim;
    private final Arena arena;
    private final Tensor gram; // (dim, dim) F32: Σ xᵀx, both triangles
    private long tokens;
    private boolean closed;

    /** An empty statistic (H = 0, no tokens) for inputs of width {@code dim}. */
    public GramStatistics(int dim) {
        if (dim <= 0) {
            throw new IllegalArgumentException("GramStatistics: input width must be positive, got " + dim);
        }
        this.dim = dim;
        this.arena = Arena.ofShared();
        this.gram = Tensor.allocate(arena, DType.F32, dim, dim);
    }

    /**
     * Adds one batch: {@code H += xᵀx} by {@link TensorOps#accumulateGram} (f32 accumulation, in the backend's fixed
     * order) and {@code tokens += n}. x (n, dim) F32.
     */
    public void add(Tensor x, TensorOps ops) {
        requireOpen();
        if (x.rank() != 2 || x.cols() != dim) {
            throw new IllegalArgumentException("GramStatistics.add: x must be (n, " + dim + "), got " + x);
        }
        ops.accumulateGram(x, 1f, gram);
        tokens += x.rows();
    }

    /** The raw sum Σ xᵀx, (dim, dim) F32, both triangles; a view the caller must not keep past {@link #close()}. */
    public Tensor gram() {
        requireOpen();
        return gram;
    }

    /** Rows (tokens) added so far. */
    public long tokens() {
        return tokens;
    }

    /** The input width d. */
    public int dim() {
        return dim;
    }

    /** Whether {@link #close()} has freed the matrix. */
    public boolean isClosed() {
        return closed;
    }

    /** Frees the matrix; idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("GramStatistics (dim " + dim + ") was closed; its Gram matrix is freed");
        }
    }
}
