package dev.espalier.engine.prune.structured;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import dev.espalier.kernels.reference.ReferenceOps;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GoaUnitScoresTest {
    private static final TensorOps OPS = new ReferenceOps();
    private static final int HIDDEN = 5;
    private static final int HEADS = 4;
    private static final int KV_HEADS = 2;
    private static final int HEAD_DIM = 2;
    private static final int CHANNELS = 6;

    /**
     * The SwiGLU depth-2 score against brute force: removing channel j alone changes each token's MLP output by
     * W_down[:, j]·h_j, so the score must equal the mean over the calibration tokens of ||y(x) − y_{−j}(x)||², with y
     * the full SwiGLU MLP computed directly and y_{−j} the same MLP with channel j zeroed.
     */
    @Test
    void swigluScoreIsTheMeanSquaredOutputChangeOfRemovingTheChannel() {
        Random random = new Random(11);
        int tokens = 50;
        try (Arena arena = Arena.ofConfined()) {
            Tensor gate = GoaScoresTest.randomMatrix(arena, random, CHANNELS, HIDDEN);
            Tensor up = GoaScoresTest.randomMatrix(arena, random, CHANNELS, HIDDEN);
            Tensor down = GoaScoresTest.randomMatrix(arena, random, HIDDEN, CHANNELS);
            double[][] x = new double[tokens][HIDDEN];
            float[] h = new float[tokens * CHANNELS];
            for (int t = 0; t < tokens; t++) {
                for (int c = 0; c < HIDDEN; c++) {
                    x[t][c] = (c + 1) * 0.4 * random.nextGaussian() + 0.2;
                }
                for (int j = 0; j < CHANNELS; j++) {
                    h[t * CHANNELS + j] = (float) hidden(gate, up, j, x[t]);
                }
            }
            ColumnMoments moments = new ColumnMoments(CHANNELS);
            moments.add(Tensor.ofFloats(arena, Arrays.copyOf(h, 20 * CHANNELS), 20, CHANNELS));
            moments.add(Tensor.ofFloats(arena, Arrays.copyOfRange(h, 20 * CHANNELS, h.length), tokens - 20, CHANNELS));
            double[] scores = GoaFfnScores.swigluScores(down, moments.meanSquare());
            for (int j = 0; j < CHANNELS; j++) {
                double brute = 0;
                for (int t = 0; t < tokens; t++) {
                    double[] full = mlp(gate, up, down, x[t], -1);
                    double[] without = mlp(gate, up, down, x[t], j);
                    for (int i = 0; i < HIDDEN; i++) {
                        brute += (full[i] - without[i]) * (full[i] - without[i]) / tokens;
                    }
                }
                assertEquals(brute, scores[j], 1e-5 * brute, "channel " + j);
            }
            try (GramStatistics gram = new GramStatistics(CHANNELS)) {
                gram.add(Tensor.ofFloats(arena, h, tokens, CHANNELS), OPS);
                assertArrayEquals(moments.meanSquare(), GoaFfnScores.meanSquare(gram), 1e-5);
            }
        }
    }

    private static double hidden(Tensor gate, Tensor up, int j, double[] x) {
        double g = 0;
        double u = 0;
        for (int c = 0; c < x.length; c++) {
            g += gate.getDouble(j, c) * x[c];
            u += up.getDouble(j, c) * x[c];
        }
        return g / (1 + Math.exp(-g)) * u;
    }

    /** down · (silu(gate x) ⊙ (up x)) with channel {@code zeroed} left out (−1: none). */
    private static double[] mlp(Tensor gate, Tensor up, Tensor down, double[] x, int zeroed) {
        double[] y = new double[HIDDEN];
        for (int j = 0; j < CHANNELS; j++) {
            if (j == zeroed) {
                continue;
            }
            double hj = hidden(gate, up, j, x);
            for (int i = 0; i < HIDDEN; i++) {
                y[i] += down.getDouble(i, j) * hj;
            }
        }
        return y;
    }

    /** The data-free scores against sums written out over each unit's weights as the class comment defines them. */
    @Test
    void normScoresSumTheUnitsOwnWeights() {
        Random random = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            DecoderLayerWeights w = layer(arena, random);
            int perGroup = HEADS / KV_HEADS;
            for (GoaUnitScores.Score score :
                    new GoaUnitScores.Score[] {GoaUnitScores.Score.L1, GoaUnitScores.Score.L2}) {
                boolean sq = score == GoaUnitScores.Score.L2;
                double[] heads = GoaUnitScores.heads(score, w, null, HEAD_DIM, perGroup, 0, 0, OPS);
                for (int h = 0; h < HEADS; h++) {
                    int g = h / perGroup;
                    double expected = 0;
                    for (int r = h * HEAD_DIM; r < (h + 1) * HEAD_DIM; r++) {
                        for (int c = 0; c < HIDDEN; c++) {
                            expected += f(w.q().getDouble(r, c), sq) + f(w.o().getDouble(c, r), sq);
                        }
                    }
                    for (int r = g * HEAD_DIM; r < (g + 1) * HEAD_DIM; r++) {
                        for (int c = 0; c < HIDDEN; c++) {
                            expected += (f(w.k().getDouble(r, c), sq) + f(w.v().getDouble(r, c), sq)) / perGroup;
                        }
                    }
                    assertEquals(expected, heads[h], 1e-9, score + " head " + h);
                }
                double[] channels = GoaUnitScores.channels(score, w, null, null, 0, 0, OPS);
                for (int j = 0; j < CHANNELS; j++) {
                    double expected = 0;
                    for (int c = 0; c < HIDDEN; c++) {
                        expected += f(w.gate().getDouble(j, c), sq)
                                + f(w.up().getDouble(j, c), sq)
                                + f(w.down().getDouble(c, j), sq);
                    }
                    assertEquals(expected, channels[j], 1e-9, score + " channel " + j);
                }
            }
            double[] depth1Heads =
                    GoaUnitScores.heads(GoaUnitScores.Score.DEPTH1, w, null, HEAD_DIM, perGroup, 0, 0, OPS);
            double[] depth1Channels = GoaUnitScores.channels(GoaUnitScores.Score.DEPTH1, w, null, null, 0, 0, OPS);
            for (int h = 0; h < HEADS; h++) {
                double expected = 0;
                for (int c = 0; c < HIDDEN; c++) {
                    for (int r = h * HEAD_DIM; r < (h + 1) * HEAD_DIM; r++) {
                        expected += w.o().getDouble(c, r) * w.o().getDouble(c, r);
                    }
                }
                assertEquals(expected, depth1Heads[h], 1e-9, "depth1 head " + h);
            }
            for (int j = 0; j < CHANNELS; j++) {
                double expected = 0;
                for (int c = 0; c < HIDDEN; c++) {
                    expected += w.down().getDouble(c, j) * w.down().getDouble(c, j);
                }
                assertEquals(expected, depth1Channels[j], 1e-9, "depth1 channel " + j);
            }
        }
    }

    private static double f(double v, boolean squared) {
        return squared ? v * v : Math.abs(v);
    }

    @Test
    void randomScoresDependOnTheSeedAndLayerOnly() {
        try (Arena arena = Arena.ofConfined()) {
            DecoderLayerWeights w = layer(arena, new Random(1));
            DecoderLayerWeights other = layer(arena, new Random(2));
            GoaUnitScores.Score r = GoaUnitScores.Score.RANDOM;
            double[] a = GoaUnitScores.channels(r, w, null, null, 3, 42, OPS);
            assertArrayEquals(a, GoaUnitScores.channels(r, other, null, null, 3, 42, OPS));
            assertFalse(Arrays.equals(a, GoaUnitScores.channels(r, w, null, null, 3, 43, OPS)));
            assertFalse(Arrays.equals(a, GoaUnitScores.channels(r, w, null, null, 4, 42, OPS)));
            double[] heads = GoaUnitScores.heads(r, w, null, HEAD_DIM, 2, 3, 42, OPS);
            assertEquals(HEADS, heads.length);
            assertFalse(Arrays.equals(Arrays.copyOf(a, HEADS), heads)); // heads and channels draw separate streams
            for (double v : a) {
                assertEquals(0.5, v, 0.5);
            }
        }
    }

    private static DecoderLayerWeights layer(Arena arena, Random random) {
        return new DecoderLayerWeights(
                null,
                GoaScoresTest.randomMatrix(arena, random, HEADS * HEAD_DIM, HIDDEN),
                GoaScoresTest.randomMatrix(arena, random, KV_HEADS * HEAD_DIM, HIDDEN),
                GoaScoresTest.randomMatrix(arena, random, KV_HEADS * HEAD_DIM, HIDDEN),
                GoaScoresTest.randomMatrix(arena, random, HIDDEN, HEADS * HEAD_DIM),
                null,
                null,
                null,
                null,
                null,
                GoaScoresTest.randomMatrix(arena, random, CHANNELS, HIDDEN),
                GoaScoresTest.randomMatrix(arena, random, CHANNELS, HIDDEN),
                GoaScoresTest.randomMatrix(arena, random, HIDDEN, CHANNELS),
                null,
                null,
                null);
    }
}
