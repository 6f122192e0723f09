package dev.espalier.engine.prune.structured;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RidgeRefitTest {
    private static final TensorOps OPS = new ReferenceOps();

    @Test
    void refitEqualsTheDirectNormalEquationsSolution() {
        Random random = new Random(21);
        int tokens = 50;
        int in = 6;
        int out = 3;
        int[] kept = {0, 2, 3, 5};
        try (Arena arena = Arena.ofConfined()) {
            double[][] x = gaussian(random, tokens, in);
            double[][] xt = perturbed(random, x, 0.3);
            double[][] w = gaussian(random, out, in);
            Grams g = grams(arena, xt, x);
            RidgeRefit.Result result = RidgeRefit.refit(tensor(arena, w), g.pruned, g.cross, g.dense, kept, arena, OPS);
            assertTrue(result.refitted());

            // Brute force: (X̃_Sᵀ X̃_S + λI) Vᵀ = X̃_Sᵀ X Wᵀ, λ = 0.01 · mean diag, by Gaussian elimination.
            int n = kept.length;
            double[][] a = new double[n][n];
            double[][] b = new double[n][out];
            double meanDiag = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    for (int t = 0; t < tokens; t++) {
                        a[i][j] += xt[t][kept[i]] * xt[t][kept[j]];
                    }
                }
                meanDiag += a[i][i] / n;
                for (int o = 0; o < out; o++) {
                    for (int t = 0; t < tokens; t++) {
                        double y = 0;
                        for (int k = 0; k < in; k++) {
                            y += x[t][k] * w[o][k];
                        }
                        b[i][o] += xt[t][kept[i]] * y;
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                a[i][i] += 0.01 * meanDiag;
            }
            double[][] v = solve(a, b); // (n, out) = Vᵀ
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < n; i++) {
                    assertEquals(
                            v[i][o],
                            result.weight().get(o, i),
                            1e-4 * (1 + Math.abs(v[i][o])),
                            "W'[" + o + ", " + i + "]");
                }
            }
            assertEquals(
                    directError(xt, x, w, result.weight(), kept), result.refitError(), 1e-3 * result.denseEnergy());
            assertEquals(
                    directError(xt, x, w, restriction(arena, w, kept), kept),
                    result.restrictedError(),
                    1e-3 * result.denseEnergy());
            assertTrue(result.refitError() < result.restrictedError());
        }
    }

    @Test
    void refitNeverIncreasesTheErrorIncludingIllConditionedInputs() {
        Random random = new Random(77);
        for (int trial = 0; trial < 24; trial++) {
            int tokens = 12 + random.nextInt(40);
            int in = 3 + random.nextInt(6);
            int out = 1 + random.nextInt(4);
            try (Arena arena = Arena.ofConfined()) {
                double[][] x = gaussian(random, tokens, in);
                int kind = trial % 4;
                for (int t = 0; t < tokens; t++) {
                    for (int k = 0; k < in; k++) {
                        if (kind == 1) {
                            x[t][k] *= Math.pow(10, k - in / 2.0); // columns over many orders of magnitude
                        } else if (kind == 2 && k > 0) {
                            x[t][k] = x[t][0] + 1e-5 * x[t][k]; // nearly collinear columns
                        } else if (kind == 3 && k == in - 1) {
                            x[t][k] = 0; // a dead input
                        }
                    }
                }
                double[][] xt = perturbed(random, x, trial % 3 == 0 ? 0 : 0.2);
                double[][] w = gaussian(random, out, in);
                int[] kept = randomSubset(random, in);
                Grams g = grams(arena, xt, x);
                RidgeRefit.Result result =
                        RidgeRefit.refit(tensor(arena, w), g.pruned, g.cross, g.dense, kept, arena, OPS);
                double chosen = directError(xt, x, w, result.weight(), kept);
                double restricted = directError(xt, x, w, restriction(arena, w, kept), kept);
                double scale =
                        directError(xt, x, w, Tensor.allocate(arena, DType.F32, out, kept.length), kept); // ||X Wᵀ||²
                assertTrue(
                        chosen <= restricted + 1e-5 * scale,
                        "trial " + trial + " (kind " + kind + "): refit error " + chosen + " > restriction's "
                                + restricted);
            }
        }
    }

    @Test
    void keepsTheDenseWeightWhenNothingWasPruned() {
        Random random = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            double[][] x = gaussian(random, 30, 4);
            double[][] w = gaussian(random, 2, 4);
            Grams g = grams(arena, x, x);
            RidgeRefit.Result result = RidgeRefit.refit(tensor(arena, w), g.pruned, g.cross, g.dense, null, arena, OPS);
            assertFalse(result.refitted()); // the damped refit is slightly worse than W itself, whose error is 0
            assertEquals(0, result.restrictedError(), 1e-4 * result.denseEnergy());
            for (int o = 0; o < 2; o++) {
                for (int k = 0; k < 4; k++) {
                    assertEquals(w[o][k], result.weight().get(o, k), 1e-6);
                }
            }
        }
    }

    @Test
    void crossGramSumsPrunedTransposeTimesDenseOverBatches() {
        Random random = new Random(6);
        try (Arena arena = Arena.ofConfined();
                CrossGramStatistics cross = new CrossGramStatistics(3, 2)) {
            double[][] xt = gaussian(random, 9, 3);
            double[][] x = gaussian(random, 9, 2);
            Tensor txt = tensor(arena, xt);
            Tensor tx = tensor(arena, x);
            cross.add(txt.rowSlice(0, 4), tx.rowSlice(0, 4), OPS);
            cross.add(txt.rowSlice(4, 9), tx.rowSlice(4, 9), OPS);
            assertEquals(9, cross.tokens());
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 2; j++) {
                    double s = 0;
                    for (int t = 0; t < 9; t++) {
                        s += xt[t][i] * x[t][j];
                    }
                    assertEquals(s, cross.cross().get(i, j), 1e-5);
                }
            }
        }
    }

    private record Grams(Tensor pruned, Tensor cross, Tensor dense) {}

    /** G̃ = X̃ᵀX̃, C = X̃ᵀX, G = XᵀX in F64 from the f32 tensors the runtime would see. */
    private static Grams grams(Arena arena, double[][] xt, double[][] x) {
        int in = x[0].length;
        Tensor pruned = Tensor.allocate(arena, DType.F64, in, in);
        Tensor dense = Tensor.allocate(arena, DType.F64, in, in);
        OPS.accumulateGram(tensor(arena, xt), 1f, pruned);
        OPS.accumulateGram(tensor(arena, x), 1f, dense);
        Tensor cross = Tensor.allocate(arena, DType.F32, in, in);
        OPS.gemm(true, false, 1f, tensor(arena, xt), tensor(arena, x), 0f, cross);
        return new Grams(pruned, cross, dense);
    }

    /** ||X̃_S Vᵀ − X Wᵀ||² directly, in f64 over the f32-rounded inputs. */
    private static double directError(double[][] xt, double[][] x, double[][] w, Tensor v, int[] kept) {
        int[] s = kept == null ? range(x[0].length) : kept;
        double e = 0;
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < w.length; o++) {
                double dense = 0;
                for (int k = 0; k < x[0].length; k++) {
                    dense += (float) x[t][k] * (double) (float) w[o][k];
                }
                double pruned = 0;
                for (int i = 0; i < s.length; i++) {
                    pruned += (float) xt[t][s[i]] * (double) v.get(o, i);
                }
                e += (pruned - dense) * (pruned - dense);
            }
        }
        return e;
    }

    private static Tensor restriction(Arena arena, double[][] w, int[] kept) {
        int[] s = kept == null ? range(w[0].length) : kept;
        Tensor r = Tensor.allocate(arena, DType.F32, w.length, s.length);
        for (int o = 0; o < w.length; o++) {
            for (int i = 0; i < s.length; i++) {
                r.set(o, i, w[o][s[i]]);
            }
        }
        return r;
    }

    private static double[][] solve(double[][] a, double[][] b) {
        int n = a.length;
        int m = b[0].length;
        double[][] aa = new double[n][];
        double[][] bb = new double[n][];
        for (int i = 0; i < n; i++) {
            aa[i] = a[i].clone();
            bb[i] = b[i].clone();
        }
        for (int c = 0; c < n; c++) {
            int p = c;
            for (int r = c + 1; r < n; r++) {
                if (Math.abs(aa[r][c]) > Math.abs(aa[p][c])) {
                    p = r;
                }
            }
            double[] t = aa[c];
            aa[c] = aa[p];
            aa[p] = t;
            t = bb[c];
            bb[c] = bb[p];
            bb[p] = t;
            for (int r = c + 1; r < n; r++) {
                double f = aa[r][c] / aa[c][c];
                for (int k = c; k < n; k++) {
                    aa[r][k] -= f * aa[c][k];
                }
                for (int k = 0; k < m; k++) {
                    bb[r][k] -= f * bb[c][k];
                }
            }
        }
        double[][] xs = new double[n][m];
        for (int r = n - 1; r >= 0; r--) {
            for (int k = 0; k < m; k++) {
                double s = bb[r][k];
                for (int j = r + 1; j < n; j++) {
                    s -= aa[r][j] * xs[j][k];
                }
                xs[r][k] = s / aa[r][r];
            }
        }
        return xs;
    }

    private static double[][] gaussian(Random random, int rows, int cols) {
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                m[r][c] = (float) random.nextGaussian();
            }
        }
        return m;
    }

    private static double[][] perturbed(Random random, double[][] x, double noise) {
        double[][] out = new double[x.length][];
        for (int r = 0; r < x.length; r++) {
            out[r] = x[r].clone();
            for (int c = 0; c < out[r].length; c++) {
                out[r][c] = (float) (out[r][c] + noise * random.nextGaussian());
            }
        }
        return out;
    }

    private static int[] randomSubset(Random random, int in) {
        int[] s = new int[in];
        int n = 0;
        for (int k = 0; k < in; k++) {
            if (random.nextBoolean()) {
                s[n++] = k;
            }
        }
        if (n == 0) {
            s[n++] = random.nextInt(in);
        }
        return java.util.Arrays.copyOf(s, n);
    }

    private static Tensor tensor(Arena arena, double[][] m) {
        float[] v = new float[m.length * m[0].length];
        for (int r = 0; r < m.length; r++) {
            for (int c = 0; c < m[0].length; c++) {
                v[r * m[0].length + c] = (float) m[r][c];
            }
        }
        return Tensor.ofFloats(arena, v, m.length, m[0].length);
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }
}
