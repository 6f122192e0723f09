package dev.espalier.engine.prune.structured;

import dev.espalier.kernels.Tensor;

/**
 * Per-column first and second moments of a linear map's calibration inputs, accumulated batch by batch in f64: for
 * every column j of the inputs x (n, dim) the token count N, the sum Σ x_j, the squared norm Σ x_j² and the centred
 * sum of squares M2_j = Σ (x_j − x̄_j)², merged across batches with the pairwise update of Chan, Golub and LeVeque
 * (stable where Σx² − N x̄² would cancel).
 *
 * <p>It also carries, unchanged, the running "fluctuation" of FLAP's {@code BiasGPT} (lib/layerwrapper.py), for
 * runs that must reproduce the official scores. That recurrence treats each {@link #add} as one sample (FLAP feeds one
 * sequence per call) and, with K the batches seen before the current one and m the running mean of per-batch
 * token means after it:
 * <pre>
 *   m     ← m · K/(K+1) + mean_t(x) / (K+1)
 *   fluct ← 0                                                   when K = 0 (the first batch adds nothing)
 *   fluct ← fluct · (K−1)/K + Σ_t (x_t − m)² / (K+1)           otherwise
 * </pre>
 * The official code meant Welford's (x − m_new)(x − m_old) but its {@code old_baseline_inp} aliases the tensor that
 * is then updated in place, so both factors use the new mean; the sum over tokens divided by a count of sequences
 * makes it about (tokens per sequence) × the token variance. Both quirks are reproduced by
 * {@link #flapFluctuation()}. FLAP standardises its scores per layer, so the constant factor cancels; the dropped
 * first batch does not. {@link #sampleVariance()} is the clean estimate this class recommends.
 *
 * <p>Not thread-safe; add batches from one thread in a fixed order.
 */
public final class ColumnMoments {
    private final int dim;
    private final double[] mean; // (dim) token mean so far
    private final double[] m2; // (dim) Σ (x − mean)² so far
    private final double[] squares; // (dim) Σ x²
    private final double[] flapMean; // (dim) FLAP's baseline_inp: running mean of per-batch token means
    private final double[] flapFluct; // (dim) FLAP's fluc_inp
    private long tokens;
    private long batches;

    /** An empty statistic for inputs of width {@code dim}. */
    public ColumnMoments(int dim) {
        if (dim <= 0) {
            throw new IllegalArgumentException("ColumnMoments: input width must be positive, got " + dim);
        }
        this.dim = dim;
        this.mean = new double[dim];
        this.m2 = new double[dim];
        this.squares = new double[dim];
        this.flapMean = new double[dim];
        this.flapFluct = new double[dim];
    }

    /** Adds one batch x (n, dim) of any float dtype; an empty batch changes nothing. */
    public void add(Tensor x) {
        if (x.rank() != 2 || x.cols() != dim) {
            throw new IllegalArgumentException("ColumnMoments.add: x must be (n, " + dim + "), got " + x);
        }
        int n = x.rows();
        if (n == 0) {
            return;
        }
        double[] batchSum = new double[dim];
        double[] batchSquares = new double[dim];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < dim; c++) {
                double v = x.getDouble(r, c);
                batchSum[c] += v;
                batchSquares[c] += v * v;
            }
        }
        double[] batchMean = new double[dim];
        double[] batchM2 = new double[dim];
        for (int c = 0; c < dim; c++) {
            batchMean[c] = batchSum[c] / n;
        }
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < dim; c++) {
                double d = x.getDouble(r, c) - batchMean[c];
                batchM2[c] += d * d;
            }
        }
        double total = tokens + n;
        for (int c = 0; c < dim; c++) {
            double delta = batchMean[c] - mean[c];
            m2[c] += batchM2[c] + delta * delta * tokens * n / total;
            mean[c] += delta * n / total;
            squares[c] += batchSquares[c];
        }
        addFlap(x, batchMean);
        tokens += n;
        batches++;
    }

    private void addFlap(Tensor x, double[] batchMean) {
        long k = batches;
        for (int c = 0; c < dim; c++) {
            flapMean[c] = flapMean[c] * k / (k + 1) + batchMean[c] / (k + 1);
        }
        if (k == 0) {
            return; // fluct stays 0
        }
        double[] centred = new double[dim];
        for (int r = 0; r < x.rows(); r++) {
            for (int c = 0; c < dim; c++) {
                double d = x.getDouble(r, c) - flapMean[c];
                centred[c] += d * d;
            }
        }
        for (int c = 0; c < dim; c++) {
            flapFluct[c] = flapFluct[c] * (k - 1) / k + centred[c] / (k + 1);
        }
    }

    /** The input width. */
    public int dim() {
        return dim;
    }

    /** Rows (tokens) added so far. */
    public long tokens() {
        return tokens;
    }

    /** Calls of {@link #add} with at least one row. */
    public long batches() {
        return batches;
    }

    /** Token mean x̄_j = Σ x_j / N, (dim); zeros before any token. */
    public double[] mean() {
        return mean.clone();
    }

    /** Squared column norms Σ x_j² over all tokens, (dim): Wanda's ||X_j||². */
    public double[] squaredNorm() {
        return squares.clone();
    }

    /** Mean square Σ x_j² / N, (dim): the diagonal of the second moment. */
    public double[] meanSquare() {
        double[] out = new double[dim];
        for (int c = 0; c < dim && tokens > 0; c++) {
            out[c] = squares[c] / tokens;
        }
        return out;
    }

    /** Unbiased sample variance over tokens Σ (x_j − x̄_j)² / (N − 1), (dim); zeros for fewer than two tokens. */
    public double[] sampleVariance() {
        double[] out = new double[dim];
        for (int c = 0; c < dim && tokens > 1; c++) {
            out[c] = m2[c] / (tokens - 1);
        }
        return out;
    }

    /** FLAP's {@code baseline_inp}: the mean over batches of each batch's token mean, (dim). */
    public double[] flapMean() {
        return flapMean.clone();
    }

    /** FLAP's {@code fluc_inp}, reproduced with its quirks (see the class comment), (dim). */
    public double[] flapFluctuation() {
        return flapFluct.clone();
    }
}
