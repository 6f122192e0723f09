package dev.espalier.engine.prune;

import java.util.function.Function;

/**
 * A pruning method for the linear maps of a decoder layer: how to make each map's {@link LinearPruner}. Methods that
 * solve over the Gram matrix of a map's inputs ({@code usesGram}) get the layer's one {@link GramStatistics} per input
 * (q/k/v share one, gate/up another), so it is accumulated once; the others keep their own statistics and are fed
 * every batch through {@link LinearPruner#addBatch}.
 *
 * @param label    the name on the command line and in reports ("wanda", "sparsegpt", …)
 * @param usesGram whether pruners solve over the shared Gram (and are not fed batches themselves)
 * @param pruners  the pruner of one map, given the layer's Gram of its input (null when no Gram is kept)
 */
public record PruningMethod(String label, boolean usesGram, Function<GramStatistics, LinearPruner> pruners) {

    public static PruningMethod magnitude() {
        return new PruningMethod("magnitude", false, gram -> new MagnitudePruner());
    }

    public static PruningMethod wanda() {
        return new PruningMethod("wanda", false, gram -> new WandaPruner());
    }

    public static PruningMethod sparseGpt(SparseGpt.Options options) {
        return new PruningMethod("sparsegpt", true, gram -> new SparseGptPruner(options, gram));
    }

    public static PruningMethod alps(Alps.Options options) {
        return new PruningMethod("alps", true, gram -> new AlpsPruner(options, gram));
    }
}
