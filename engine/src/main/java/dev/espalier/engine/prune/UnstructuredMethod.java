package dev.espalier.engine.prune;

import dev.espalier.engine.model.DecoderLayerWeights;
import java.lang.foreign.Arena;

/**
 * Unstructured or N:M pruning of every linear map of every layer to one sparsity, by a {@link PruningMethod}
 * (magnitude, Wanda, SparseGPT, ALPS), in a {@link SolveOrder}.
 *
 * @param measureErrors whether every pruned matrix's relative reconstruction error is measured (costs a Gram per input)
 */
public record UnstructuredMethod(
        PruningMethod method, SparsityPattern pattern, double sparsity, SolveOrder order, boolean measureErrors)
        implements LayerMethod {

    @Override
    public String label() {
        return method.label();
    }

    @Override
    public String describe() {
        return method.label() + " " + pattern + " at sparsity " + sparsity + " (" + order.label() + " solve order)";
    }

    @Override
    public int phases() {
        return order.phases().size();
    }

    @Override
    public boolean usesDenseStream() {
        return false;
    }

    @Override
    public boolean scoresGlobally() {
        return false;
    }

    @Override
    public LayerWork open(
            int layer, DecoderLayerWeights dense, DecoderLayerWeights start, boolean completed, Arena arena) {
        return new LayerPruningState(layer, start, method, measureErrors, order, pattern, sparsity, arena);
    }
}
