package dev.espalier.engine.prune;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * A layer pruned by an unstructured method at its OWL rate ({@link OwlAllocation}): in the scoring pass it runs the
 * dense layer and, as a {@link LayerTap}, sums x_j² over the tokens of each map input, for the layer's outlier ratio;
 * the global allocation then sets the sparsity of its {@link LayerPruningState}, which does the pruning.
 */
final class OwlLayer implements LayerWork, LayerTap {
    private final LayerPruningState state;
    private final DecoderLayerWeights dense;
    private final OwlAllocation owl;
    private final Map<LinearModule.Input, double[]> squaredNorms = new EnumMap<>(LinearModule.Input.class);

    OwlLayer(LayerPruningState state, DecoderLayerWeights dense, OwlAllocation owl) {
        this.state = state;
        this.dense = dense;
        this.owl = owl;
    }

    @Override
    public int layer() {
        return state.layer();
    }

    @Override
    public DecoderLayerWeights weights() {
        return state.weights();
    }

    @Override
    public void accumulate(int phase, Tensor input, Tensor denseInput, LayerRunner runner, TensorOps ops) {
        state.accumulate(phase, input, denseInput, runner, ops);
    }

    @Override
    public List<LayerProblem> problems(int phase) {
        return state.problems(phase);
    }

    @Override
    public void score(Tensor hidden, LayerRunner runner, TensorOps ops) {
        runner.run(dense, this, hidden);
    }

    @Override
    public LayerScores scores(TensorOps ops) {
        double ratio = owl.outlierRatio(dense, input -> {
            double[] norms = squaredNorms.get(input);
            if (norms == null) {
                throw new IllegalStateException("layer " + layer() + ": OWL scored without calibration batches");
            }
            return norms;
        });
        squaredNorms.clear();
        return LayerScores.outliers(layer(), ratio);
    }

    @Override
    public void allocate(LayerAllocation allocation) {
        if (!allocation.isSparsity()) {
            throw new IllegalArgumentException("layer " + layer() + ": OWL takes a sparsity, got " + allocation);
        }
        state.sparsity(allocation.sparsity());
    }

    @Override
    public void attentionInput(int l, Tensor x) {
        add(LinearModule.Input.ATTENTION, x);
    }

    @Override
    public void attentionOutput(int l, Tensor x) {
        add(LinearModule.Input.ATTENTION_OUTPUT, x);
    }

    @Override
    public void mlpInput(int l, Tensor x) {
        add(LinearModule.Input.MLP, x);
    }

    @Override
    public void downInput(int l, Tensor x) {
        add(LinearModule.Input.DOWN, x);
    }

    /** Σ over the rows of x of x_j², in f64, rows in order. */
    private void add(LinearModule.Input input, Tensor x) {
        double[] sums = squaredNorms.computeIfAbsent(input, i -> new double[x.cols()]);
        for (int r = 0; r < x.rows(); r++) {
            for (int c = 0; c < sums.length; c++) {
                double v = x.get(r, c);
                sums[c] += v * v;
            }
        }
    }

    @Override
    public void releaseStatistics() {
        state.releaseStatistics();
    }

    @Override
    public void close() {
        state.close();
    }
}
