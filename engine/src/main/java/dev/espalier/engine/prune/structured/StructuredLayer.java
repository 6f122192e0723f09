package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.prune.KeptUnits;
import dev.espalier.engine.prune.LayerAllocation;
import dev.espalier.engine.prune.LayerPruningState;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LayerWork;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * What the structured methods (and the recovery of given masks, {@link GivenUnitsLayer}) share on a layer's home worker: the layer's writable weights (replaced by a
 * compact copy once units are removed), the dense layer's weights, the allocation from a global scoring pass, the
 * choice of kept units from scores, and the per-map outcome of a compaction.
 */
abstract class StructuredLayer implements LayerWork {
    protected final StructuredMethod method;
    protected final int layer;
    protected final DecoderLayerWeights dense;
    protected final LlamaConfig.LayerDims denseDims;
    protected final Arena arena;
    protected DecoderLayerWeights weights; // (pruned so far) F32 copies in the worker's arena
    protected LayerAllocation allocation; // from the global scoring pass; null: uniform widths
    private KeptUnits kept; // in the dense layer's numbering; everything until the first compaction

    StructuredLayer(
            StructuredMethod method, int layer, DecoderLayerWeights dense, DecoderLayerWeights start, Arena arena) {
        this.method = method;
        this.layer = layer;
        this.dense = dense;
        this.denseDims = method.config().layer(layer);
        this.arena = arena;
        this.weights = LayerPruningState.copy(start, arena);
        this.kept = KeptUnits.all(denseDims);
    }

    @Override
    public KeptUnits keptUnits() {
        return kept;
    }

    @Override
    public int layer() {
        return layer;
    }

    @Override
    public DecoderLayerWeights weights() {
        return weights;
    }

    @Override
    public void allocate(LayerAllocation a) {
        this.allocation = a;
    }

    protected int headDim() {
        return method.config().headDim();
    }

    /** Runs {@code w} on a copy of {@code input}, feeding {@code tap}. */
    protected static void run(LayerRunner runner, DecoderLayerWeights w, LayerTap tap, Tensor input) {
        try (Arena scratch = Arena.ofConfined()) {
            runner.run(w, tap, input.copyAs(scratch, DType.F32));
        }
    }

    /**
     * The kept units given per-query-head and per-channel scores (higher = keep): the allocated numbers of the best
     * units, or with uniform widths the layer's share of the target ({@link StructuredAllocation#uniform}).
     */
    protected KeptUnits select(double[] queryHeadScores, double[] channelScores) {
        StructuredAllocation.LayerUnits units = method.units(layer, queryHeadScores, channelScores);
        int[] keptHeadUnits;
        int[] keptChannels;
        if (allocation != null) {
            keptHeadUnits = StructuredAllocation.keepHighest(units.headScores(), allocation.attentionUnits());
            keptChannels = StructuredAllocation.keepHighest(channelScores, allocation.channels());
        } else {
            StructuredAllocation.Allocation a = StructuredAllocation.uniform(List.of(units), method.sparsity(), 0);
            keptHeadUnits = a.keptHeadUnits()[0];
            keptChannels = a.keptChannels()[0];
        }
        return new KeptUnits(
                HeadUnits.queryHeads(keptHeadUnits, queryHeadScores, denseDims, method.granularity()), keptChannels);
    }

    /** Replaces the weights by their compact copy keeping {@code kept} (indices into the current widths). */
    protected void compact(KeptUnits units) {
        weights = LayerSurgery.compact(weights, LlamaConfig.LayerDims.of(weights, headDim()), headDim(), units, arena);
        int[] heads =
                Arrays.stream(units.queryHeads()).map(h -> kept.queryHeads()[h]).toArray();
        int[] channels =
                Arrays.stream(units.channels()).map(c -> kept.channels()[c]).toArray();
        kept = new KeptUnits(heads, channels);
    }

    /** Each map's removed share of the dense layer's weights, with its relative reconstruction error where measured. */
    protected Map<LinearModule, LinearPruner.PruneOutcome> outcomes(Map<LinearModule, Double> errors) {
        Map<LinearModule, LinearPruner.PruneOutcome> out = new EnumMap<>(LinearModule.class);
        for (LinearModule m : LinearModule.values()) {
            long total = m.weight(dense).numel();
            long kept = m.weight(weights).numel();
            out.put(m, new LinearPruner.PruneOutcome(total - kept, total, errors.getOrDefault(m, Double.NaN)));
        }
        return out;
    }

    /** Scoring pass with {@link #scoringTap}: runs the dense layer in place. */
    @Override
    public void score(Tensor hidden, LayerRunner runner, TensorOps ops) {
        runner.run(dense, scoringTap(ops), hidden);
    }

    /** The statistics the scoring pass feeds. */
    protected abstract LayerTap scoringTap(TensorOps ops);
}
