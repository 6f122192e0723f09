package dev.espalier.engine.prune.structured;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GoaScoresTest {
    private static final TensorOps OPS = new ReferenceOps();

    /**
     * The required check. For x ~ N(0, Σ) with Σ the calibration second moment, each branch score must be the
     * second moment of that branch's depth-2 channel output y_j = W_down[:, j] · ReLU(a_jᵀx), and the channel score
     * the product of the two. The estimate over M samples of E||y_j||² = ||W_down[:, j]||² E[ReLU(z)²], z ~ N(0, s²),
     * has relative standard error sd(ReLU(z)²)/E[ReLU(z)²]/√M = √(5/4)·s² / (s²/2) / √M = √5/√M (E[ReLU(z)⁴] = 3s⁴/2);
     * the test allows 5 of them per branch, so (1 + 5e)² − 1 = 10e + 25e² for the product of the two.
     */
    @Test
    void ffnScoresEqualMonteCarloSecondMomentsOfTheDepth2ChannelOutputs() {
        Random random = new Random(2024);
        int hidden = 6;
        int channels = 5;
        int tokens = 300;
        try (Arena arena = Arena.ofConfined();
                GramStatistics gram = new GramStatistics(hidden)) {
            // Calibration inputs with correlated, unequal columns and a non-zero mean (Σ is a second moment).
            float[] xv = new float[tokens * hidden];
            for (int t = 0; t < tokens; t++) {
                double common = random.nextGaussian();
                for (int c = 0; c < hidden; c++) {
                    xv[t * hidden + c] = (float) ((c + 1) * 0.5 * random.nextGaussian() + 0.8 * common + 0.3);
                }
            }
            gram.add(Tensor.ofFloats(arena, xv, tokens, hidden), OPS);
            Tensor gate = randomMatrix(arena, random, channels, hidden);
            Tensor up = randomMatrix(arena, random, channels, hidden);
            Tensor down = randomMatrix(arena, random, hidden, channels);
            GoaFfnScores.Scores scores = GoaFfnScores.scores(gate, up, down, gram, OPS);

            double[][] sigma = new double[hidden][hidden];
            for (int i = 0; i < hidden; i++) {
                for (int j = 0; j < hidden; j++) {
                    sigma[i][j] = gram.gram().get(i, j) / tokens;
                }
            }
            double[][] l = cholesky(sigma);
            int samples = 200_000;
            double[] mcGate = new double[channels];
            double[] mcUp = new double[channels];
            double[] eps = new double[hidden];
            double[] x = new double[hidden];
            for (int s = 0; s < samples; s++) {
                for (int i = 0; i < hidden; i++) {
                    eps[i] = random.nextGaussian();
                }
                for (int i = 0; i < hidden; i++) {
                    double v = 0;
                    for (int k = 0; k <= i; k++) {
                        v += l[i][k] * eps[k];
                    }
                    x[i] = v;
                }
                for (int j = 0; j < channels; j++) {
                    mcGate[j] += outputEnergy(down, j, Math.max(0, dot(gate, j, x))) / samples;
                    mcUp[j] += outputEnergy(down, j, Math.max(0, dot(up, j, x))) / samples;
                }
            }
            double relativeStandardError = Math.sqrt(5.0 / samples);
            for (int j = 0; j < channels; j++) {
                assertEquals(
                        mcGate[j], scores.gate()[j], 5 * relativeStandardError * scores.gate()[j], "gate branch " + j);
                assertEquals(mcUp[j], scores.up()[j], 5 * relativeStandardError * scores.up()[j], "up branch " + j);
                assertEquals(
                        mcGate[j] * mcUp[j],
                        scores.channel()[j],
                        (10 * relativeStandardError + 25 * relativeStandardError * relativeStandardError)
                                * scores.channel()[j],
                        "channel " + j);
            }
        }
    }

    @Test
    void headScoreIsTheMeanOutputEnergyOfTheHeadThroughOProj() {
        Random random = new Random(8);
        int heads = 4;
        int headDim = 3;
        int hidden = 5;
        int tokens = 40;
        try (Arena arena = Arena.ofConfined();
                GramStatistics gram = new GramStatistics(heads * headDim)) {
            Tensor z = randomMatrix(arena, random, tokens, heads * headDim);
            gram.add(z.rowSlice(0, 15), OPS);
            gram.add(z.rowSlice(15, tokens), OPS);
            Tensor oProj = randomMatrix(arena, random, hidden, heads * headDim);
            double[] scores = GoaHeadScores.headScores(oProj, gram, headDim, OPS);
            for (int h = 0; h < heads; h++) {
                double energy = 0;
                for (int t = 0; t < tokens; t++) {
                    for (int o = 0; o < hidden; o++) {
                        double y = 0;
                        for (int k = 0; k < headDim; k++) {
                            y += oProj.get(o, h * headDim + k) * z.get(t, h * headDim + k);
                        }
                        energy += y * y;
                    }
                }
                assertEquals(energy / tokens, scores[h], 1e-4 * energy / tokens, "head " + h);
            }
            assertArrayEquals(
                    new double[] {scores[0] + scores[1], scores[2] + scores[3]},
                    GoaHeadScores.groupScores(scores, 2),
                    1e-12);
        }
    }

    @Test
    void quadraticFormsMatchDirectSumsOverSeveralRowBlocks() {
        Random random = new Random(1);
        int hidden = 4;
        int rows = 1100; // more than two row blocks
        try (Arena arena = Arena.ofConfined();
                GramStatistics gram = new GramStatistics(hidden)) {
            Tensor x = randomMatrix(arena, random, 20, hidden);
            gram.add(x, OPS);
            Tensor a = randomMatrix(arena, random, rows, hidden);
            double[] q = GoaFfnScores.quadraticForms(a, gram, OPS);
            for (int j = 0; j < rows; j += 97) {
                double direct = 0;
                for (int t = 0; t < 20; t++) {
                    double v = 0;
                    for (int k = 0; k < hidden; k++) {
                        v += a.get(j, k) * x.get(t, k);
                    }
                    direct += v * v / 20;
                }
                assertEquals(direct, q[j], 1e-4 * direct);
            }
            assertTrue(q[rows - 1] > 0);
        }
    }

    private static double outputEnergy(Tensor down, int channel, double activation) {
        double e = 0;
        for (int o = 0; o < down.rows(); o++) {
            double y = down.get(o, channel) * activation;
            e += y * y;
        }
        return e;
    }

    private static double dot(Tensor a, int row, double[] x) {
        double s = 0;
        for (int k = 0; k < x.length; k++) {
            s += a.get(row, k) * x[k];
        }
        return s;
    }

    static Tensor randomMatrix(Arena arena, Random random, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return Tensor.ofFloats(arena, v, rows, cols);
    }

    static double[][] cholesky(double[][] a) {
        int n = a.length;
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
        return l;
    }
}
