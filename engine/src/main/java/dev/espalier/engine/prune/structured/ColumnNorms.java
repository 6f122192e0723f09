package dev.espalier.engine.prune.structured;

import dev.espalier.kernels.Tensor;

/** Column statistics of a weight W (out, in), in f64. */
final class ColumnNorms {
    private ColumnNorms() {}

    /** Σ_i |W_ij|, (in). */
    static double[] absSums(Tensor w) {
        requireMatrix(w);
        double[] out = new double[w.cols()];
        for (int r = 0; r < w.rows(); r++) {
            for (int c = 0; c < out.length; c++) {
                out[c] += Math.abs(w.getDouble(r, c));
            }
        }
        return out;
    }

    /** ||W[:, j]||² = Σ_i W_ij², (in). */
    static double[] squaredNorms(Tensor w) {
        requireMatrix(w);
        double[] out = new double[w.cols()];
        for (int r = 0; r < w.rows(); r++) {
            for (int c = 0; c < out.length; c++) {
                double v = w.getDouble(r, c);
                out[c] += v * v;
            }
        }
        return out;
    }

    /** Sums of consecutive blocks of {@code width} entries: out[h] = Σ_{j < width} x[h·width + j]. */
    static double[] blockSums(double[] x, int width) {
        if (width <= 0 || x.length % width != 0) {
            throw new IllegalArgumentException(x.length + " columns do not split into heads of " + width);
        }
        double[] out = new double[x.length / width];
        for (int j = 0; j < x.length; j++) {
            out[j / width] += x[j];
        }
        return out;
    }

    static void requireMatrix(Tensor w) {
        if (w.rank() != 2) {
            throw new IllegalArgumentException("expected a weight matrix (out, in), got " + w);
        }
    }

    static void requireLength(double[] v, int n, String what) {
        if (v.length != n) {
            throw new IllegalArgumentException(what + ": expected " + n + " values, got " + v.length);
        }
    }
}
