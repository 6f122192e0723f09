package dev.espalier.engine.runtime;

import dev.espalier.engine.prune.GramStatistics;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.prune.SparsityPattern;
import dev.espalier.kernels.Tensor;

/**
 * One independent solve of a layer: a linear map's weight and the pruner holding its input statistics. The weight
 * is the home worker's writable tensor, pruned in place by whichever worker solves it (workers of one host share
 * memory; each map's tensor is written by exactly one solver). {@code gram}, the layer's Gram of the map's input
 * (read-only, possibly shared with other maps), is null when reconstruction errors are not measured and the method
 * needs none.
 */
public record MatrixProblem(int layer, LinearModule module, Tensor weight, LinearPruner pruner, GramStatistics gram,
                            SparsityPattern pattern, double sparsity) {}
