package dev.espalier.engine.prune.policy;

import java.util.SplittableRandom;

/**
 * Initial keep-probabilities from a per-unit importance metric (issue #6): the Wanda-sp metric the official code uses
 * by default, or any other per-unit scores (the greedy-output-approximation scores plug in through
 * {@link #fromScores}).
 *
 * <p>Official defaults ({@code scripts/llama2_7b.sh}): {@code --init-type wanda-sp --score-from-metric sigmap
 * --init-rate r} with r the keep ratio (the same value as the target), statistics from 128 C4 sequences of 1024
 * tokens ({@code --nsamples 128 --init-seqlen 1024}), each layer scored on the output of the already-initialised
 * (init-masked) layers before it, as Wanda does.
 */
public final class MetricInitialisation {

    /** Per-unit scores for one layer; higher means more important. */
    public interface UnitScores {
        /** Layer {@code layer}'s scores for its key/value groups (one per group). */
        double[] heads(int layer);

        /** Layer {@code layer}'s scores for its FFN channels (one per channel). */
        double[] channels(int layer);

        /** Scores held per layer: {@code heads[layer]}, {@code channels[layer]}. */
        static UnitScores of(double[][] heads, double[][] channels) {
            return new UnitScores() {
                @Override
                public double[] heads(int layer) {
                    return heads[layer];
                }

                @Override
                public double[] channels(int layer) {
                    return channels[layer];
                }
            };
        }
    }

    private MetricInitialisation() {}

    /**
     * Scores for the random-initialisation ablation: i.i.d. uniform in [0, 1) per unit, from a generator seeded with
     * {@code seed} (mixed with a constant, so that they do not repeat the rollouts' own draws), layer by layer, key/value
     * groups before channels. Through {@link ScoreMapping#SIGMAP} they give probabilities spread like a metric's, with the
     * same mean, but carrying no information about the model.
     */
    public static UnitScores randomScores(UnitLayout layout, long seed) {
        SplittableRandom random = new SplittableRandom(seed ^ 0x5DEECE66DL);
        int layers = layout.numLayers();
        double[][] heads = new double[layers][];
        double[][] channels = new double[layers][];
        for (int l = 0; l < layers; l++) {
            heads[l] = random.doubles(layout.units(UnitKind.HEAD, l)).toArray();
            channels[l] = random.doubles(layout.units(UnitKind.CHANNEL, l)).toArray();
        }
        return UnitScores.of(heads, channels);
    }

    /**
     * A state whose head and channel probabilities are {@code mapping} applied per layer to {@code scores}, with mean
     * {@code headKeep} / {@code channelKeep}; layer units (if any) start at {@code layerKeep}.
     */
    public static PolicyState fromScores(
            UnitLayout layout,
            long seed,
            UnitScores scores,
            ScoreMapping mapping,
            double headKeep,
            double channelKeep,
            double layerKeep) {
        PolicyState state = PolicyState.uniform(layout, seed, headKeep, channelKeep, layerKeep);
        for (int l = 0; l < layout.numLayers(); l++) {
            state.setProbabilities(UnitKind.HEAD, l, mapping.map(scores.heads(l), headKeep));
            state.setProbabilities(UnitKind.CHANNEL, l, mapping.map(scores.channels(l), channelKeep));
        }
        return state;
    }

    /**
     * Wanda-sp's score of each key/value group, from o_proj: with M[i][j] = |W[i][j]| · sqrt(n_j), the score of query
     * head h is Σ over its headDim input columns j of mean_i M[i][j], and a group's score is the mean of its query
     * heads' scores (query heads g·G .. g·G + G − 1 share key/value head g). The official code hard-codes headDim =
     * 128 (LLaMA's); here it is a parameter.
     *
     * @param oProj        (hidden, numHeads · headDim) row-major: o_proj's weight
     * @param inputSquares (numHeads · headDim): per input column of o_proj, the calibration mean of Σ_tokens x_j²
     *                     (any positive multiple gives the same probabilities under {@link ScoreMapping})
     */
    public static double[] wandaSpHeadScores(
            float[] oProj, double[] inputSquares, int hidden, int numHeads, int numKvHeads, int headDim) {
        int cols = numHeads * headDim;
        double[] column = columnMeans(oProj, inputSquares, hidden, cols);
        if (numKvHeads <= 0 || numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException(
                    numHeads + " query heads cannot be shared by " + numKvHeads + " key/value heads");
        }
        int perGroup = numHeads / numKvHeads;
        double[] groups = new double[numKvHeads];
        for (int h = 0; h < numHeads; h++) {
            double head = 0;
            for (int d = 0; d < headDim; d++) {
                head += column[h * headDim + d];
            }
            groups[h / perGroup] += head / perGroup;
        }
        return groups;
    }

    /**
     * Wanda-sp's score of each FFN channel, from down_proj: mean_i |W[i][j]| · sqrt(n_j).
     *
     * @param downProj     (hidden, intermediate) row-major: down_proj's weight
     * @param inputSquares (intermediate): per input column of down_proj, the calibration mean of Σ_tokens x_j²
     */
    public static double[] wandaSpChannelScores(float[] downProj, double[] inputSquares, int hidden, int intermediate) {
        return columnMeans(downProj, inputSquares, hidden, intermediate);
    }

    private static double[] columnMeans(float[] w, double[] inputSquares, int rows, int cols) {
        if (w.length != (long) rows * cols || inputSquares.length != cols) {
            throw new IllegalArgumentException("weight of " + w.length + " values and " + inputSquares.length
                    + " input statistics do not match (" + rows + ", " + cols + ")");
        }
        double[] mean = new double[cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                mean[j] += Math.abs(w[i * cols + j]);
            }
        }
        for (int j = 0; j < cols; j++) {
            mean[j] = mean[j] / rows * Math.sqrt(inputSquares[j]);
        }
        return mean;
    }
}
