package dev.espalier.kernels;

import java.util.Arrays;

/**
 * Argument checks shared by the {@link TensorOps} backends, so that every backend rejects the same calls with the
 * same one-line message: the operation, the argument, what it was and what was expected.
 */
public final class TensorChecks {
    private TensorChecks() {}

    /** The (rows, cols) of op(t): t itself, or its transpose when {@code transposed}. */
    public static int[] opShape(String op, String arg, Tensor t, boolean transposed) {
        requireRank(op, arg, t, 2);
        return transposed ? new int[] {t.cols(), t.rows()} : new int[] {t.rows(), t.cols()};
    }

    public static void requireRank(String op, String arg, Tensor t, int rank) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(op + ": " + arg + " has shape " + Arrays.toString(t.shape())
                    + ", expected a rank-" + rank + " tensor");
        }
    }

    public static void requireShape(String op, String arg, Tensor t, int... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + arg + " has shape " + Arrays.toString(t.shape())
                    + ", expected " + Arrays.toString(expected));
        }
    }

    public static void requireDType(String op, String arg, Tensor t, DType... allowed) {
        for (DType d : allowed) {
            if (t.dtype() == d) {
                return;
            }
        }
        throw new IllegalArgumentException(op + ": " + arg + " is " + t.dtype() + ", expected "
                + (allowed.length == 1 ? allowed[0] : "one of " + Arrays.toString(allowed)));
    }

    public static void requireContiguous(String op, String arg, Tensor t) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(
                    op + ": " + arg + " is a strided view " + t + ", expected a contiguous tensor");
        }
    }

    public static void requireSameShape(String op, String arg, Tensor t, String otherArg, Tensor other) {
        if (!Arrays.equals(t.shape(), other.shape())) {
            throw new IllegalArgumentException(op + ": " + arg + " has shape " + Arrays.toString(t.shape())
                    + ", expected the shape of " + otherArg + " " + Arrays.toString(other.shape()));
        }
    }

    /** The number of rows of a matrix-like tensor: dim 0 of a 2-D tensor, 1 for a vector. */
    public static int rowsOf(String op, String arg, Tensor t) {
        return switch (t.rank()) {
            case 1 -> 1;
            case 2 -> t.rows();
            default ->
                throw new IllegalArgumentException(op + ": " + arg + " has shape " + Arrays.toString(t.shape())
                        + ", expected a vector or a matrix");
        };
    }

    /** The row length of a matrix-like tensor: dim 1 of a 2-D tensor, its length for a vector. */
    public static int colsOf(String op, String arg, Tensor t) {
        return switch (t.rank()) {
            case 1 -> t.dim(0);
            case 2 -> t.cols();
            default ->
                throw new IllegalArgumentException(op + ": " + arg + " has shape " + Arrays.toString(t.shape())
                        + ", expected a vector or a matrix");
        };
    }

    /** Elements between row starts of a matrix-like tensor (its row length for a vector). */
    public static long strideOf(Tensor t) {
        return t.rank() == 2 ? t.rowStride() : t.rank() == 1 ? t.dim(0) : 0;
    }

    /**
     * Checks the arguments of {@link TensorOps#gemm} and returns {m, n, k}: op(a) (m, k), op(b) (k, n), c (m, n),
     * c F32 (a and b may be any float dtype; backends read them widened to f32).
     */
    public static int[] gemmShape(boolean transA, boolean transB, Tensor a, Tensor b, Tensor c) {
        int[] sa = opShape("gemm", "a", a, transA);
        int[] sb = opShape("gemm", "b", b, transB);
        requireRank("gemm", "c", c, 2);
        requireDType("gemm", "c", c, DType.F32);
        if (sa[1] != sb[0]) {
            throw new IllegalArgumentException("gemm: op(a) is " + Arrays.toString(sa) + " and op(b) is "
                    + Arrays.toString(sb) + ", expected op(a) columns == op(b) rows");
        }
        requireShape("gemm", "c", c, sa[0], sb[1]);
        return new int[] {sa[0], sb[1], sa[1]};
    }

    /** Checks the arguments of {@link TensorOps#maskedConjugateGradient}; returns {d, m}. */
    public static int[] cgShape(Tensor h, Tensor b, Tensor mask, Tensor x, int maxIterations, double tolerance) {
        String op = "maskedConjugateGradient";
        requireRank(op, "h", h, 2);
        int d = h.rows();
        requireShape(op, "h", h, d, d);
        requireRank(op, "b", b, 2);
        int m = b.cols();
        requireShape(op, "b", b, d, m);
        requireShape(op, "mask", mask, d, m);
        requireShape(op, "x", x, d, m);
        String[] names = {"h", "b", "mask", "x"};
        Tensor[] tensors = {h, b, mask, x};
        for (int i = 0; i < tensors.length; i++) {
            requireDType(op, names[i], tensors[i], DType.F32);
            requireContiguous(op, names[i], tensors[i]);
        }
        if (maxIterations < 0 || !(tolerance >= 0)) {
            throw new IllegalArgumentException(op + ": maxIterations " + maxIterations + " and tolerance " + tolerance
                    + ", expected maxIterations >= 0 and tolerance >= 0");
        }
        return new int[] {d, m};
    }

    /** Checks the arguments of {@link TensorOps#obsSweep}; returns {rows, k}. */
    public static int[] obsSweepShape(Tensor u, int nmKeep, int nmGroup, Tensor marks, Tensor w, Tensor errors) {
        String op = "obsSweep";
        requireRank(op, "w", w, 2);
        int rows = w.rows();
        int k = w.cols();
        requireShape(op, "u", u, k, k);
        requireShape(op, "marks", marks, rows, k);
        requireShape(op, "errors", errors, rows, k);
        String[] names = {"u", "marks", "w", "errors"};
        Tensor[] tensors = {u, marks, w, errors};
        for (int i = 0; i < tensors.length; i++) {
            requireDType(op, names[i], tensors[i], DType.F32);
        }
        if (nmGroup < 0 || nmKeep < 0 || nmKeep > nmGroup) {
            throw new IllegalArgumentException(op + ": nmKeep " + nmKeep + " and nmGroup " + nmGroup
                    + ", expected 0 <= nmKeep <= nmGroup (nmGroup 0: the marks are given)");
        }
        return new int[] {rows, k};
    }

    /** Checks a square contiguous F32/F64 matrix for Cholesky; returns n. */
    public static int choleskyShape(Tensor a) {
        requireRank("cholesky", "a", a, 2);
        requireShape("cholesky", "a", a, a.rows(), a.rows());
        requireDType("cholesky", "a", a, DType.F32, DType.F64);
        requireContiguous("cholesky", "a", a);
        return a.rows();
    }

    /** Checks the arguments of {@link TensorOps#solveLowerTriangular}; returns {n, m}. */
    public static int[] triangularShape(Tensor l, Tensor b) {
        String op = "solveLowerTriangular";
        requireRank(op, "l", l, 2);
        int n = l.rows();
        requireShape(op, "l", l, n, n);
        requireRank(op, "b", b, 2);
        requireShape(op, "b", b, n, b.cols());
        requireDType(op, "l", l, DType.F32, DType.F64);
        requireDType(op, "b", b, l.dtype());
        requireContiguous(op, "l", l);
        requireContiguous(op, "b", b);
        return new int[] {n, b.cols()};
    }

    /** Checks the arguments of {@link TensorOps#symmetricEigen}; returns n. */
    public static int eigenShape(Tensor a, Tensor values, Tensor vectors) {
        String op = "symmetricEigen";
        requireRank(op, "a", a, 2);
        int n = a.rows();
        requireShape(op, "a", a, n, n);
        requireShape(op, "values", values, n);
        requireShape(op, "vectors", vectors, n, n);
        requireDType(op, "a", a, DType.F64);
        requireDType(op, "values", values, DType.F64);
        requireDType(op, "vectors", vectors, DType.F64);
        requireContiguous(op, "a", a);
        return n;
    }

    /** Checks the arguments of {@link TensorOps#accumulateGram}; returns {n, d}. */
    public static int[] gramShape(Tensor x, Tensor g) {
        requireRank("accumulateGram", "x", x, 2);
        requireDType("accumulateGram", "x", x, DType.F32);
        int d = x.cols();
        requireShape("accumulateGram", "g", g, d, d);
        requireDType("accumulateGram", "g", g, DType.F32, DType.F64);
        return new int[] {x.rows(), d};
    }

    /** Checks the arguments of {@link TensorOps#rope}; returns {rows, heads}. */
    public static int[] ropeShape(Tensor x, int headDim, Tensor invFreq) {
        int rows = rowsOf("rope", "x", x);
        int width = colsOf("rope", "x", x);
        if (headDim <= 0 || headDim % 2 != 0 || width % headDim != 0) {
            throw new IllegalArgumentException("rope: headDim " + headDim + " for rows of " + width
                    + ", expected an even headDim dividing the row length");
        }
        requireShape("rope", "invFreq", invFreq, headDim / 2);
        return new int[] {rows, width / headDim};
    }
}
