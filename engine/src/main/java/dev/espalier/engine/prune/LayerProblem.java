package dev.espalier.engine.prune;

import dev.espalier.kernels.TensorOps;
import java.util.Map;
import java.util.function.Function;

/**
 * One independent piece of a layer's pruning work (a matrix solve, a refit, a selection of units) that any device
 * worker of the host may run: problems of one phase touch disjoint weights, so they run concurrently.
 */
public interface LayerProblem {

    int layer();

    /** What it does, for logs and errors ("q_proj", "attention heads"). */
    String name();

    /** Does the work on {@code ops}; returns what each linear map it changed now looks like. */
    Map<LinearModule, LinearPruner.PruneOutcome> solve(TensorOps ops);

    /** A problem whose work is {@code body}. */
    static LayerProblem of(
            int layer, String name, Function<TensorOps, Map<LinearModule, LinearPruner.PruneOutcome>> body) {
        return new LayerProblem() {
            @Override
            public int layer() {
                return layer;
            }

            @Override
            public String name() {
                return name;
            }

            @Override
            public Map<LinearModule, LinearPruner.PruneOutcome> solve(TensorOps ops) {
                return body.apply(ops);
            }
        };
    }
}
