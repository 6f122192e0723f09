package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;

/**
 * Small least-squares problems for the ALPS tests, and their exact answers in plain f64 Java: the reconstruction
 * error {@code Σ_r (ŵ_r − w_r)ᵀ H (ŵ_r − w_r)} and the exact refit of a weight on a fixed support.
 */
final class AlpsLeastSquares {
    final int out;
    final int in;
    final int tokens;
    final float[] x; // (tokens, in) calibration inputs, row-major
    final float[] weight; // (out, in) dense weight, row-major
    final double[][] gram; // (in, in) XᵀX, undamped, in f64

    private AlpsLeastSquares(int out, int in, int tokens, float[] x, float[] weight) {
        this.out = out;
        this.in = in;
        this.tokens = tokens;
        this.x = x;
        this.weight = weight;
        this.gram = new double[in][in];
        for (int t = 0; t < tokens; t++) {
            for (int i = 0; i < in; i++) {
                for (int j = 0; j < in; j++) {
                    gram[i][j] += (double) x[t * in + i] * x[t * in + j];
                }
            }
        }
    }

    /**
     * Inputs with correlated columns of unequal scale: x_j = scale_j (z_j + 0.8 f + 0.5 z_{j−1}) with z and the common
     * factor f standard normal; a standard normal weight.
     */
    static AlpsLeastSquares correlated(long seed, int out, int in, int tokens) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[tokens * in];
        double[] z = new double[in];
        for (int t = 0; t < tokens; t++) {
            double f = random.nextGaussian();
            for (int j = 0; j < in; j++) {
                z[j] = random.nextGaussian();
            }
            for (int j = 0; j < in; j++) {
                double scale = 0.5 + 2.0 * ((j * 7) % in) / in;
                x[t * in + j] = (float) (scale * (z[j] + 0.8 * f + (j > 0 ? 0.5 * z[j - 1] : 0)));
            }
        }
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian();
        }
        return new AlpsLeastSquares(out, in, tokens, x, w);
    }

    /** X as an F32 tensor (tokens, in). */
    Tensor inputs(Arena arena) {
        return Tensor.ofFloats(arena, x, tokens, in);
    }

    /** A fresh copy of the dense weight (out, in). */
    Tensor weightTensor(Arena arena) {
        return Tensor.ofFloats(arena, weight, out, in);
    }

    /** XᵀX (in, in) F32 accumulated by {@code ops.accumulateGram} in chunks of 16 rows. */
    Tensor gramTensor(Arena arena, TensorOps ops) {
        Tensor g = Tensor.allocate(arena, DType.F32, in, in);
        Tensor all = inputs(arena);
        for (int r = 0; r < tokens; r += 16) {
            ops.accumulateGram(all.rowSlice(r, Math.min(tokens, r + 16)), 1f, g);
        }
        return g;
    }

    /** H + δI with δ = fraction · mean(diag H), the Gram ALPS minimises over. */
    double[][] damped(double fraction) {
        double trace = 0;
        for (int i = 0; i < in; i++) {
            trace += gram[i][i];
        }
        double[][] h = new double[in][];
        for (int i = 0; i < in; i++) {
            h[i] = gram[i].clone();
            h[i][i] += fraction * trace / in;
        }
        return h;
    }

    /** Σ_r (ŵ_r − w_r)ᵀ H (ŵ_r − w_r) for ŵ (out, in) row-major. */
    double error(float[] pruned, double[][] h) {
        double sum = 0;
        for (int r = 0; r < out; r++) {
            for (int i = 0; i < in; i++) {
                double ei = pruned[r * in + i] - weight[r * in + i];
                for (int j = 0; j < in; j++) {
                    sum += ei * h[i][j] * (pruned[r * in + j] - weight[r * in + j]);
                }
            }
        }
        return sum;
    }

    /**
     * The exact least-squares refit on a support (keep (out, in) row-major): per row, ŵ_S = H_SS⁻¹ (H w)_S, ŵ = 0 off
     * S, by Cholesky in f64. Returns ŵ (out, in).
     */
    float[] refit(boolean[] keep, double[][] h) {
        float[] result = new float[out * in];
        for (int r = 0; r < out; r++) {
            int[] s = support(keep, r);
            int m = s.length;
            double[][] a = new double[m][m];
            double[] b = new double[m];
            for (int p = 0; p < m; p++) {
                for (int q = 0; q < m; q++) {
                    a[p][q] = h[s[p]][s[q]];
                }
                for (int j = 0; j < in; j++) {
                    b[p] += h[s[p]][j] * weight[r * in + j];
                }
            }
            double[] sol = choleskySolve(a, b);
            for (int p = 0; p < m; p++) {
                result[r * in + s[p]] = (float) sol[p];
            }
        }
        return result;
    }

    /** The error of the exact refit on a support, in f64 throughout: Σ_r (w_rᵀ H w_r − c_Sᵀ H_SS⁻¹ c_S), c = H w_r. */
    double refitError(boolean[] keep, double[][] h) {
        double sum = 0;
        for (int r = 0; r < out; r++) {
            sum += rowRefitError(r, keep, h);
        }
        return sum;
    }

    /** Row r's term of {@link #refitError}: w_rᵀ H w_r − c_Sᵀ H_SS⁻¹ c_S with S row r's support in keep (out, in). */
    double rowRefitError(int r, boolean[] keep, double[][] h) {
        int[] s = support(keep, r);
        int m = s.length;
        double[] c = new double[in];
        double energy = 0;
        for (int i = 0; i < in; i++) {
            for (int j = 0; j < in; j++) {
                c[i] += h[i][j] * weight[r * in + j];
            }
            energy += weight[r * in + i] * c[i];
        }
        double[][] a = new double[m][m];
        double[] b = new double[m];
        for (int p = 0; p < m; p++) {
            for (int q = 0; q < m; q++) {
                a[p][q] = h[s[p]][s[q]];
            }
            b[p] = c[s[p]];
        }
        double[] sol = choleskySolve(a, b);
        double explained = 0;
        for (int p = 0; p < m; p++) {
            explained += b[p] * sol[p];
        }
        return energy - explained;
    }

    private int[] support(boolean[] keep, int row) {
        int m = 0;
        for (int i = 0; i < in; i++) {
            if (keep[row * in + i]) {
                m++;
            }
        }
        int[] s = new int[m];
        m = 0;
        for (int i = 0; i < in; i++) {
            if (keep[row * in + i]) {
                s[m++] = i;
            }
        }
        return s;
    }

    private static double[] choleskySolve(double[][] a, double[] b) {
        int n = b.length;
        double[][] l = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = a[i][j];
                for (int k = 0; k < j; k++) {
                    s -= l[i][k] * l[j][k];
                }
                l[i][j] = i == j ? Math.sqrt(s) : s / l[j][j];
            }
        }
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            double s = b[i];
            for (int k = 0; k < i; k++) {
                s -= l[i][k] * y[k];
            }
            y[i] = s / l[i][i];
        }
        double[] x = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double s = y[i];
            for (int k = i + 1; k < n; k++) {
                s -= l[k][i] * x[k];
            }
            x[i] = s / l[i][i];
        }
        return x;
    }
}
