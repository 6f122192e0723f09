package dev.espalier.engine.prune.structured;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ColumnMomentsTest {

    @Test
    void batchedMomentsEqualTwoPassMomentsOfAllTokens() {
        Random random = new Random(11);
        int dim = 5;
        int[] batchRows = {7, 1, 12};
        float[][] all = new float[20][dim];
        ColumnMoments moments = new ColumnMoments(dim);
        try (Arena arena = Arena.ofConfined()) {
            int row = 0;
            for (int n : batchRows) {
                float[] values = new float[n * dim];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (100 + 3 * random.nextGaussian()); // a large mean: Σx² − N·x̄² would cancel
                    all[row + i / dim][i % dim] = values[i];
                }
                moments.add(Tensor.ofFloats(arena, values, n, dim));
                row += n;
            }
        }
        double[] mean = new double[dim];
        double[] squares = new double[dim];
        double[] variance = new double[dim];
        for (float[] x : all) {
            for (int c = 0; c < dim; c++) {
                mean[c] += x[c] / 20.0;
                squares[c] += (double) x[c] * x[c];
            }
        }
        for (float[] x : all) {
            for (int c = 0; c < dim; c++) {
                variance[c] += (x[c] - mean[c]) * (x[c] - mean[c]) / 19.0;
            }
        }
        assertEquals(20, moments.tokens());
        assertEquals(3, moments.batches());
        assertArrayEquals(mean, moments.mean(), 1e-10);
        assertArrayEquals(squares, moments.squaredNorm(), 1e-6);
        assertArrayEquals(variance, moments.sampleVariance(), 1e-9);
        for (int c = 0; c < dim; c++) {
            assertEquals(squares[c] / 20, moments.meanSquare()[c], 1e-9);
        }
    }

    @Test
    void flapFluctuationFollowsTheOfficialRecurrenceIncludingItsQuirks() {
        // Batches (one column): [1, 3], [5, 7], [0, 0, 0]. By hand, with the official update:
        //   after 1: mean 2, fluct 0 (the first batch adds nothing)
        //   after 2: mean (2 + 6)/2 = 4, fluct = ((5−4)² + (7−4)²) / 2 = 5 (both factors use the new mean)
        //   after 3: mean (2 + 6 + 0)/3 = 8/3, fluct = 5 · 1/2 + 3 · (8/3)² / 3 = 2.5 + 64/9
        ColumnMoments moments = new ColumnMoments(1);
        try (Arena arena = Arena.ofConfined()) {
            moments.add(Tensor.ofFloats(arena, new float[] {1, 3}, 2, 1));
            assertEquals(0, moments.flapFluctuation()[0], 0);
            moments.add(Tensor.ofFloats(arena, new float[] {5, 7}, 2, 1));
            assertEquals(4, moments.flapMean()[0], 1e-12);
            assertEquals(5, moments.flapFluctuation()[0], 1e-12);
            moments.add(Tensor.ofFloats(arena, new float[] {0, 0, 0}, 3, 1));
            assertEquals(8.0 / 3, moments.flapMean()[0], 1e-12);
            assertEquals(2.5 + 64.0 / 9, moments.flapFluctuation()[0], 1e-12);
        }
        // The clean statistic over the 7 tokens {1, 3, 5, 7, 0, 0, 0}: mean 16/7.
        double mean = 16.0 / 7;
        double ss = 0;
        for (double v : new double[] {1, 3, 5, 7, 0, 0, 0}) {
            ss += (v - mean) * (v - mean);
        }
        assertEquals(mean, moments.mean()[0], 1e-12);
        assertEquals(ss / 6, moments.sampleVariance()[0], 1e-12);
    }
}
