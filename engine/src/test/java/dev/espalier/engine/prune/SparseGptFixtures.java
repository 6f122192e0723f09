package dev.espalier.engine.prune;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;

/** Seeded least-squares problems and a literal f64 transcription of SparseGPT's {@code fasterprune}, for tests. */
final class SparseGptFixtures {
    private SparseGptFixtures() {}

    /** A (rows, cols) F32 tensor of standard Gaussians. */
    static Tensor gaussian(Arena arena, Random random, int rows, int cols) {
        Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
        for (long i = 0; i < t.numel(); i++) {
            t.setFlat(i, random.nextGaussian());
        }
        return t;
    }

    /**
     * Inputs X = Z · A (n, d) with strongly correlated columns: Z (n, d) Gaussian with column scales decaying as
     * exp(−4 j / d), A (d, d) a Gaussian mixing matrix; a few columns get a large scale, like the outlier features of
     * LLM activations.
     */
    static Tensor correlatedInputs(Arena arena, long seed, int n, int d) {
        Random random = new Random(seed);
        double[] z = new double[n * d]; // (n, d)
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < d; j++) {
                z[r * d + j] = random.nextGaussian() * Math.exp(-4.0 * j / d);
            }
        }
        double[] a = new double[d * d]; // (d, d)
        for (int i = 0; i < a.length; i++) {
            a[i] = random.nextGaussian() / Math.sqrt(d);
        }
        Tensor x = Tensor.allocate(arena, DType.F32, n, d);
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < d; c++) {
                double sum = 0;
                for (int k = 0; k < d; k++) {
                    sum += z[r * d + k] * a[k * d + c];
                }
                x.set(r, c, sum * (c % 17 == 3 ? 8 : 1));
            }
        }
        return x;
    }

    /** XᵀX (d, d) in f64 from an explicit X (n, d). */
    static double[] gram(Tensor x) {
        int n = x.rows();
        int d = x.cols();
        double[] h = new double[d * d];
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < d; i++) {
                double xi = x.getDouble(r, i);
                for (int j = 0; j < d; j++) {
                    h[i * d + j] += xi * x.getDouble(r, j);
                }
            }
        }
        return h;
    }

    /** A copy of a tensor in a new F32 tensor of the arena. */
    static Tensor copy(Arena arena, Tensor t) {
        return t.copyAs(arena, DType.F32);
    }

    /** Lower Cholesky factor of a symmetric positive-definite (n, n) matrix, f64. */
    static double[] cholesky(double[] a, int n) {
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = a[i * n + j];
                for (int p = 0; p < j; p++) {
                    sum -= l[i * n + p] * l[j * n + p];
                }
                l[i * n + j] = i == j ? Math.sqrt(sum) : sum / l[j * n + j];
            }
        }
        return l;
    }

    /** The inverse of a symmetric positive-definite (n, n) matrix, f64, through its Cholesky factor. */
    static double[] inverse(double[] a, int n) {
        double[] l = cholesky(a, n);
        double[] inv = new double[n * n];
        for (int col = 0; col < n; col++) {
            double[] y = new double[n];
            for (int i = 0; i < n; i++) { // L y = e_col
                double sum = i == col ? 1 : 0;
                for (int p = 0; p < i; p++) {
                    sum -= l[i * n + p] * y[p];
                }
                y[i] = sum / l[i * n + i];
            }
            for (int i = n - 1; i >= 0; i--) { // Lᵀ x = y
                double sum = y[i];
                for (int p = i + 1; p < n; p++) {
                    sum -= l[p * n + i] * inv[p * n + col];
                }
                inv[i * n + col] = sum / l[i * n + i];
            }
        }
        return inv;
    }

    /**
     * {@code fasterprune} written out literally in f64 on (out, d) weights {@code w}, modified in place: H scaled by
     * 2 / tokens, dead inputs, damping, Hinv = chol(H⁻¹)ᵀ upper, blocks with rank-1 updates of the whole rest of the
     * block per column and one update of the columns right of the block; unstructured blocks drop exactly
     * ⌊out · width · sparsity⌋ (ties: earlier column, then earlier row), N:M groups their M − N smallest.
     */
    static void fasterprune(
            double[] w,
            int out,
            double[] rawGram,
            long tokens,
            SparsityPattern pattern,
            double sparsity,
            int blockSize,
            double percDamp) {
        int d = (int) Math.round(Math.sqrt(rawGram.length));
        double[] h = new double[d * d];
        for (int i = 0; i < h.length; i++) {
            h[i] = rawGram[i] * (float) (2.0 / tokens);
        }
        double diagSum = 0;
        for (int i = 0; i < d; i++) {
            if (h[i * d + i] == 0) {
                h[i * d + i] = 1;
                for (int r = 0; r < out; r++) {
                    w[r * d + i] = 0;
                }
            }
            diagSum += h[i * d + i];
        }
        for (int i = 0; i < d; i++) {
            h[i * d + i] += percDamp * diagSum / d;
        }
        double[] lower = cholesky(inverse(h, d), d);
        double[] u = new double[d * d]; // upper: Hinv = uᵀ u
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                u[i * d + j] = lower[j * d + i];
            }
        }
        for (int i1 = 0; i1 < d; i1 += blockSize) {
            int i2 = Math.min(i1 + blockSize, d);
            int width = i2 - i1;
            boolean[] prune = new boolean[out * width];
            if (!pattern.isNm()) {
                double[] scores = new double[out * width]; // column-major: ties go to the earlier column, then row
                for (int r = 0; r < out; r++) {
                    for (int c = 0; c < width; c++) {
                        double v = w[r * d + i1 + c];
                        double s = u[(i1 + c) * d + i1 + c];
                        scores[c * out + r] = v * v / (s * s);
                    }
                }
                int k = (int) (out * width * sparsity);
                Integer[] order = IntStream.range(0, out * width).boxed().toArray(Integer[]::new);
                Arrays.sort(
                        order,
                        Comparator.<Integer>comparingDouble(i -> scores[i]).thenComparingInt(i -> i));
                for (int t = 0; t < k; t++) {
                    int c = order[t] / out;
                    int r = order[t] % out;
                    prune[r * width + c] = true;
                }
            }
            double[] err = new double[out * width];
            for (int c = 0; c < width; c++) {
                int i = i1 + c;
                for (int r = 0; r < out; r++) {
                    if (pattern.isNm() && i % pattern.group() == 0) {
                        int m = pattern.group();
                        Integer[] order = IntStream.range(0, m).boxed().toArray(Integer[]::new);
                        int row = r;
                        Arrays.sort(
                                order,
                                Comparator.<Integer>comparingDouble(g -> {
                                            double v = w[row * d + i + g];
                                            double s = u[(i + g) * d + i + g];
                                            return v * v / (s * s);
                                        })
                                        .thenComparingInt(g -> g));
                        for (int t = 0; t < m - pattern.keep(); t++) {
                            prune[r * width + c + order[t]] = true;
                        }
                    }
                    if (prune[r * width + c]) {
                        double e = w[r * d + i] / u[i * d + i];
                        err[r * width + c] = e;
                        for (int j = i; j < i2; j++) {
                            w[r * d + j] -= e * u[i * d + j];
                        }
                        w[r * d + i] = 0;
                    }
                }
            }
            for (int r = 0; r < out; r++) {
                for (int j = i2; j < d; j++) {
                    double sum = 0;
                    for (int c = 0; c < width; c++) {
                        sum += err[r * width + c] * u[(i1 + c) * d + j];
                    }
                    w[r * d + j] -= sum;
                }
            }
        }
    }
}
