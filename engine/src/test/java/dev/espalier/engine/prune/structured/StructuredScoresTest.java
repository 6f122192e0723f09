package dev.espalier.engine.prune.structured;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Wanda-sp and FLAP scores and FLAP's bias compensation on small hand-checkable cases. */
class StructuredScoresTest {

    @Test
    void wandaSpAveragesWandaScoresOverRowsAndSumsThemOverEachHead() {
        try (Arena arena = Arena.ofConfined()) {
            // W (2, 4): two heads of headDim 2. Inputs: column norms² 1, 4, 9, 16.
            Tensor w = Tensor.ofFloats(arena, new float[] {1, -2, 3, 0, -1, 2, 1, 4}, 2, 4);
            Tensor x = Tensor.ofFloats(arena, new float[] {1, 2, 3, 4}, 1, 4);
            ColumnMoments moments = new ColumnMoments(4);
            moments.add(x);
            double[] columns = WandaSpScores.columnScores(w, moments.squaredNorm());
            // mean_i |W_ij| = 1, 2, 2, 2; times ||X_j|| = 1, 2, 3, 4
            assertArrayEquals(new double[] {1, 4, 6, 8}, columns, 1e-12);
            assertArrayEquals(new double[] {5, 14}, WandaSpScores.headScores(w, moments, 2), 1e-12);
            assertArrayEquals(columns, WandaSpScores.channelScores(w, moments), 1e-12);
        }
    }

    @Test
    void flapWifvIsFluctuationTimesColumnNormSquaredAndHeadsAverageStandardisedSquares() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = Tensor.ofFloats(arena, new float[] {1, 2, 0, 1, 1, 0, 2, 1}, 2, 4); // ||W_j||² = 2, 4, 4, 2
            Tensor x = Tensor.ofFloats(arena, new float[] {0, 0, 0, 0, 1, 2, 3, 4, 2, 4, 6, 8}, 3, 4);
            ColumnMoments moments = new ColumnMoments(4);
            moments.add(x);
            double[] variance = moments.sampleVariance(); // 1, 4, 9, 16
            assertArrayEquals(new double[] {1, 4, 9, 16}, variance, 1e-12);
            double[] wifv = FlapScores.columnMetric(FlapScores.Metric.WIFV, w, moments, variance);
            assertArrayEquals(new double[] {2, 16, 36, 32}, wifv, 1e-12);
            assertArrayEquals(variance, FlapScores.columnMetric(FlapScores.Metric.IFV, w, moments, variance), 0);
            // WIFN: mean_i |W_ij| · sqrt(mean x²): mean squares 5/3, 20/3, 15, 80/3
            double[] wifn = FlapScores.columnMetric(FlapScores.Metric.WIFN, w, moments, variance);
            assertEquals(1 * Math.sqrt(5.0 / 3), wifn[0], 1e-12);
            assertEquals(1 * Math.sqrt(80.0 / 3), wifn[3], 1e-12);

            // AL-AM heads: squares 4, 256, 1296, 1024; z-scores with the unbiased std; head = mean of its two columns.
            double[] sq = {4, 256, 1296, 1024};
            double mean = (4 + 256 + 1296 + 1024) / 4.0;
            double ss = 0;
            for (double v : sq) {
                ss += (v - mean) * (v - mean);
            }
            double std = Math.sqrt(ss / 3);
            double[] heads = FlapScores.adaptiveHeadScores(wifv, 2);
            assertEquals(((4 - mean) / std + (256 - mean) / std) / 2, heads[0], 1e-12);
            assertEquals(((1296 - mean) / std + (1024 - mean) / std) / 2, heads[1], 1e-12);
            assertArrayEquals(new double[] {260, 2320}, FlapScores.uniformHeadScores(wifv, 2), 1e-9);
            double[] channels = FlapScores.adaptiveChannelScores(wifv);
            assertEquals(0, channels[0] + channels[1] + channels[2] + channels[3], 1e-12);
        }
    }

    @Test
    void biasCompensationReplacesPrunedInputsByTheirMean() {
        Random random = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            float[] wv = new float[3 * 6];
            for (int i = 0; i < wv.length; i++) {
                wv[i] = (float) random.nextGaussian();
            }
            Tensor w = Tensor.ofFloats(arena, wv, 3, 6);
            double[] mean = {0.5, -1, 2, 0.25, 3, -0.75};
            float[] bias = LayerSurgery.compensation(w, new int[] {0, 2, 3, 5}, mean); // kept: 1 and 4
            double[] x = {9, 8, 7, 6, 5, 4}; // any input: pruned coordinates are replaced by the mean
            for (int o = 0; o < 3; o++) {
                double dense = 0;
                double compact = bias[o];
                for (int j = 0; j < 6; j++) {
                    boolean isKept = j == 1 || j == 4;
                    dense += w.get(o, j) * (isKept ? x[j] : mean[j]);
                    compact += isKept ? w.get(o, j) * x[j] : 0;
                }
                assertEquals(dense, compact, 1e-5);
            }
            assertArrayEquals(new int[] {2, 3, 6, 7}, LayerSurgery.units(new int[] {1, 3}, 2));
        }
    }
}
