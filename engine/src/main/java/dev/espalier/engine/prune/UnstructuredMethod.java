package dev.espalier.engine.prune;

import dev.espalier.engine.model.DecoderLayerWeights;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * Unstructured or N:M pruning of every linear map of every layer by a {@link PruningMethod} (magnitude, Wanda,
 * SparseGPT, ALPS), in a {@link SolveOrder}: at one sparsity, or with {@code owl} at each layer's OWL rate (their
 * mean is {@code sparsity}), from a scoring pass over the dense model.
 *
 * @param measureErrors whether every pruned matrix's relative reconstruction error is measured (costs a Gram per input)
 * @param owl OWL's non-uniform layer sparsity, or null: every layer at {@code sparsity}
 */
public record UnstructuredMethod(
        PruningMethod method,
        SparsityPattern pattern,
        double sparsity,
        SolveOrder order,
        boolean measureErrors,
        OwlAllocation owl)
        implements LayerMethod {

    /** Every layer at {@code sparsity}. */
    public UnstructuredMethod(
            PruningMethod method, SparsityPattern pattern, double sparsity, SolveOrder order, boolean measureErrors) {
        this(method, pattern, sparsity, order, measureErrors, null);
    }

    @Override
    public String label() {
        return method.label();
    }

    @Override
    public String describe() {
        return method.label() + " " + pattern + " at sparsity " + sparsity + " (" + order.label() + " solve order"
                + (owl == null ? "" : "; OWL layer sparsity, M " + owl.m() + ", λ " + owl.lambda()) + ")";
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
        return owl != null;
    }

    @Override
    public LayerWork open(
            int layer, DecoderLayerWeights dense, DecoderLayerWeights start, boolean completed, Arena arena) {
        LayerPruningState state =
                new LayerPruningState(layer, start, method, measureErrors, order, pattern, sparsity, arena);
        return owl == null ? state : new OwlLayer(state, dense, owl);
    }

    /** OWL: each layer's sparsity from the layers' outlier ratios. */
    @Override
    public List<LayerAllocation> allocate(List<LayerScores> scores) {
        if (owl == null) {
            return LayerMethod.super.allocate(scores);
        }
        double[] ratios = new double[scores.size()];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = scores.get(i).outlierRatio();
        }
        double[] rates = owl.sparsities(ratios, sparsity);
        List<LayerAllocation> out = new ArrayList<>();
        for (int i = 0; i < rates.length; i++) {
            out.add(LayerAllocation.ofSparsity(scores.get(i).layer(), rates[i]));
        }
        return out;
    }
}
