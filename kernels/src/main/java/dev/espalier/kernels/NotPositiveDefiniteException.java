package dev.espalier.kernels;

/** Thrown by {@link TensorOps#cholesky} when the matrix is not (numerically) positive definite. */
public final class NotPositiveDefiniteException extends ArithmeticException {
    private final int failedColumn;

    public NotPositiveDefiniteException(int failedColumn, int size) {
        super("matrix of size " + size + " is not positive definite (leading minor " + (failedColumn + 1)
                + " is not positive)");
        this.failedColumn = failedColumn;
    }

    /** 0-based index of the first column whose pivot was not positive. */
    public int failedColumn() {
        return failedColumn;
    }
}
