package dev.espalier.engine.prune;

import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.util.List;

/**
 * A decoder layer being pruned, on its home device worker: the plain object a {@code LayerPruner} stage drives. The
 * stage runs {@link LayerMethod#phases()} phases; in each it hands every held calibration batch to
 * {@link #accumulate}, then the phase's {@link #problems} are solved, spread over the workers. Afterwards
 * {@link #weights()} is the pruned layer. Methods that allocate widths globally first see every batch once in a
 * scoring pass over the dense model ({@link #score}), then get their {@link LayerAllocation}.
 * Not thread-safe while accumulating; problems of one phase may run concurrently.
 */
public interface LayerWork extends AutoCloseable {

    int layer();

    /** The layer as pruned so far (the pruned layer once every phase is done). */
    DecoderLayerWeights weights();

    /**
     * Feeds phase {@code phase}'s statistics from one calibration batch: {@code input} is the layer's input in the
     * pruned model, {@code dense} its input in the dense model (null unless {@link LayerMethod#usesDenseStream()}).
     * Neither is modified.
     */
    void accumulate(int phase, Tensor input, Tensor dense, LayerRunner runner, TensorOps ops);

    /** The independent solves of phase {@code phase}, once every batch has been accumulated. */
    List<LayerProblem> problems(int phase);

    /** Scoring pass: runs the dense layer on {@code hidden} in place, feeding the scores' statistics. */
    default void score(Tensor hidden, LayerRunner runner, TensorOps ops) {
        throw new UnsupportedOperationException("layer " + layer() + ": this method has no scoring pass");
    }

    /** The unit scores of the scoring pass (its statistics are released). */
    default LayerScores scores(TensorOps ops) {
        throw new UnsupportedOperationException("layer " + layer() + ": this method has no scoring pass");
    }

    /** Gives the layer its widths from the global allocation, before its first phase. */
    default void allocate(LayerAllocation allocation) {
        throw new UnsupportedOperationException("layer " + layer() + ": this method takes no allocation");
    }

    /**
     * Called once the layer is pruned and checkpointed, before it streams its outputs: frees what only pruning needed
     * (Grams, statistics), so that they do not wait for {@link #close()} while the next layer fills its own.
     */
    default void releaseStatistics() {}

    /** Structured methods: the units of the dense layer that {@link #weights()} keeps; null for unstructured ones. */
    default KeptUnits keptUnits() {
        return null;
    }

    /** Frees statistics; the weights stay (they belong to the worker's arena). */
    @Override
    void close();
}
