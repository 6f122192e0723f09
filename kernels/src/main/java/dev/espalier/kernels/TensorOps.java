package dev.espalier.kernels;

import java.lang.foreign.MemorySegment;
import java.util.function.IntConsumer;

/**
 * The math contract of Espalier. Every backend (scalar reference, CPU, CUDA) implements it; the scalar
 * reference backend is the oracle the others are tested against ({@code TensorOpsContractTest}).
 *
 * <p>Conventions: kernels are synchronous, allocate nothing the caller can see, take the destination last
 * and say which arguments they modify. Matrices are row-major 2-D tensors; matrix arguments may be strided
 * column views (see {@link Tensor#columnSlice}) unless a method says "contiguous". Unless stated otherwise
 * tensors are F32 and reductions accumulate in f32 in a fixed order, so results do not depend on thread count.
 */
public interface TensorOps extends AutoCloseable {

    /** Short name for reports ("reference", "cpu", "cuda:0"). */
    String name();

    /**
     * General matrix product {@code c = alpha * op(a) * op(b) + beta * c}, op(x) = x or xᵀ. Modifies {@code c}.
     * Shapes: op(a) (m, k), op(b) (k, n), c (m, n). When beta is 0, c's prior contents are ignored (NaN too).
     */
    void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    /** The linear layer {@code out = x · wᵀ}: x (n, in), w (out, in), out (n, out). Modifies {@code out}. */
    default void linear(Tensor x, Tensor w, Tensor out) {
        gemm(false, true, 1f, x, w, 0f, out);
    }

    /**
     * Gram accumulation {@code g += scale * xᵀ x}: x (n, d) F32, g (d, d) F32 or F64, both triangles filled.
     * Modifies {@code g}.
     */
    void accumulateGram(Tensor x, float scale, Tensor g);

    /**
     * In-place Cholesky factorisation {@code a = L Lᵀ} of a symmetric positive-definite matrix: a (n, n) F32
     * or F64, contiguous; on return its lower triangle holds L and the strict upper triangle is zero.
     * Modifies {@code a}. Throws {@link NotPositiveDefiniteException} when a leading minor is not positive.
     */
    void cholesky(Tensor a);

    /**
     * Triangular solve in place: {@code b ← op(L)⁻¹ b} with L lower triangular (n, n) and b (n, m), both of
     * the same dtype (F32 or F64), contiguous; op(L) = L, or Lᵀ when {@code transpose}. Modifies {@code b}.
     */
    void solveLowerTriangular(Tensor l, boolean transpose, Tensor b);

    /**
     * Symmetric eigendecomposition {@code a = V diag(w) Vᵀ}: a (n, n) F64 contiguous (only its lower triangle
     * is read; it is not modified), eigenvalues ascending into {@code values} (n) F64, orthonormal eigenvectors
     * as the columns of {@code vectors} (n, n) F64. Modifies {@code values} and {@code vectors}.
     */
    void symmetricEigen(Tensor a, Tensor values, Tensor vectors);

    /**
     * Conjugate gradient restricted to a support, column by column and batched: for every column j solves
     * {@code H[S_j, S_j] x[S_j, j] = b[S_j, j]} with S_j = { i : mask[i, j] != 0 } and x[i, j] = 0 off the
     * support. h (d, d) symmetric positive definite; b, mask and x (d, m), F32, contiguous. {@code x} holds the
     * starting point on entry (its off-support entries are zeroed) and the solution on return; Jacobi
     * (diagonal) preconditioning. Stops when every column's residual norm is at most {@code tolerance} times
     * its right-hand side's norm, or after {@code maxIterations}. Modifies {@code x}; returns the iterations run.
     */
    int maskedConjugateGradient(Tensor h, Tensor b, Tensor mask, Tensor x, int maxIterations, double tolerance);

    /**
     * The in-block sweep of SparseGPT's optimal-brain-surgeon update (Frantar and Alistarh, 2023), row by row. For every
     * row r and every column a = 0, 1, …, k − 1 in that order, in f32 with d = u[a][a]:
     * <pre>
     *   p = w[r][a] · marks[r][a];   errors[r][a] = p / d;   w[r][a] = w[r][a] − p;
     *   w[r][b] = fma(errors[r][a], −u[a][b], w[r][b])   for b = a + 1, …, k − 1 (one rounding each),
     * </pre>
     * so that every weight sees the updates from the columns left of it in column order; a mark of 1 prunes a weight to
     * exactly 0, a mark of 0 keeps it. The result is the same bits whatever the backend's thread count.
     *
     * <p>Marks: with {@code nmGroup} 0 (unstructured; {@code nmKeep} 0) they are read. With {@code nmGroup} M &gt; 0
     * (N:M) they are chosen here and written: at every column a with a % M = 0, let g = min(M, k − a) and
     * s_c = (w[r][c] · w[r][c]) / (u[c][c] · u[c][c]) for c = a … a + g − 1, the weights as they are at that point; each
     * row marks its g − n smallest scores, n = {@code nmKeep} for a full group and ⌈g · nmKeep / M⌉ for a trailing one,
     * ties going to the earlier column (scores compared as their f32 bit patterns), and unmarks the others.
     *
     * <p>Shapes: u (k, k) F32, only its upper triangle read, positive diagonal; marks, w and errors (rows, k) F32, any
     * row strides, none of them overlapping; 0 ≤ nmKeep ≤ nmGroup. Modifies {@code w} and {@code errors}, and
     * {@code marks} when {@code nmGroup} &gt; 0.
     */
    void obsSweep(Tensor u, int nmKeep, int nmGroup, Tensor marks, Tensor w, Tensor errors);

    /**
     * RMSNorm of each row: {@code out[r] = x[r] / sqrt(mean(x[r]²) + eps) * weight}, the mean of squares in f64.
     * x and out (n, d), weight (d) of any float dtype. Modifies {@code out} (may be {@code x}).
     */
    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out);

    /**
     * Rotary position embedding in the Hugging Face rotate-half convention, in place, for rows at positions
     * {@code startPosition + r}: x (n, heads * headDim); for each head and i < headDim/2 the pair
     * (x[i], x[i + headDim/2]) is rotated by the angle position * invFreq[i]. invFreq (headDim / 2) F32.
     * Modifies {@code x}.
     */
    void rope(Tensor x, int headDim, int startPosition, Tensor invFreq);

    /**
     * Causal softmax of attention scores, in place: scores (n, t) where row r is the query at absolute position
     * {@code firstQueryPosition + r} and column c the key at position c. The visible keys are those with
     * c ≤ position and, when {@code window} > 0 (a sliding window, as Mistral's), position − c < window; they get
     * softmax(scale * scores) over the visible keys, every other entry 0. Modifies {@code scores}.
     */
    void causalSoftmax(Tensor scores, int firstQueryPosition, float scale, int window);

    /** SwiGLU gate: {@code out = silu(gate) * up}, element-wise over (n, d) tensors. Modifies {@code out}. */
    void siluMul(Tensor gate, Tensor up, Tensor out);

    /** {@code y += x} element-wise over tensors of the same shape. Modifies {@code y}. */
    void add(Tensor x, Tensor y);

    /** {@code y[r] += bias} for every row r of y (n, d); bias (d). Modifies {@code y}. */
    void addRowVector(Tensor bias, Tensor y);

    /**
     * {@code y[r][c] *= scale[c]} for every row r of y (n, d); scale (d). Modifies {@code y}. Used for structural
     * masks (heads, FFN channels). The default is a scalar loop; backends override it.
     */
    default void mulRowVector(Tensor scale, Tensor y) {
        int d = y.cols();
        for (int r = 0; r < y.rows(); r++) {
            for (int c = 0; c < d; c++) {
                y.set(r, c, y.get(r, c) * scale.getFlat(c));
            }
        }
    }

    /**
     * Negative log-likelihood of each row's target under softmax(logits): {@code out[r] = logsumexp(logits[r]) -
     * logits[r][targets[r]]}, computed in f64 after subtracting the row maximum. logits (n, vocab). Modifies
     * {@code out} (length ≥ n).
     */
    default void softmaxCrossEntropy(Tensor logits, int[] targets, double[] out) {
        int vocab = logits.cols();
        for (int r = 0; r < logits.rows(); r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < vocab; c++) {
                max = Math.max(max, logits.get(r, c));
            }
            double sum = 0;
            for (int c = 0; c < vocab; c++) {
                sum += Math.exp(logits.get(r, c) - max);
            }
            out[r] = max + Math.log(sum) - logits.get(r, targets[r]);
        }
    }

    /**
     * Runs {@code task.accept(i)} for every i in [0, count) on this backend's threads (the caller's included) and
     * returns when all are done, rethrowing the first failure. For method code whose work splits into independent
     * pieces (SparseGPT's rows within a block): tasks must write disjoint outputs and compute each output the same way
     * whichever thread runs them, so that results do not depend on the thread count. Memory of a confined arena must be
     * reached through {@link #shareable}. The default runs the tasks in order on the calling thread.
     */
    default void forEachTask(int count, IntConsumer task) {
        for (int i = 0; i < count; i++) {
            task.accept(i);
        }
    }

    /**
     * A view of {@code segment} that the tasks of {@link #forEachTask} may touch from the backend's threads; valid
     * only during that call, while the caller keeps the segment's arena open. The default returns the segment.
     */
    default MemorySegment shareable(MemorySegment segment) {
        return segment;
    }

    /** Releases native resources of the backend (thread pools, library handles). */
    @Override
    default void close() {}
}
