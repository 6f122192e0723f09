package dev.espalier.engine.prune;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * One decoder layer being pruned: writable F32 copies of its weights and one {@link LinearPruner} per linear map.
 * As a {@link LayerTap} it feeds each map's pruner with that map's inputs during the dense forward pass.
 */
public final class LayerPruningState implements LayerTap {
    private final int layer;
    private final DecoderLayerWeights weights; // writable copies: the pruned layer once every map is pruned
    private final Map<LinearModule, LinearPruner> pruners = new EnumMap<>(LinearModule.class);
    private TensorOps ops;

    public LayerPruningState(int layer, DecoderLayerWeights original, Supplier<LinearPruner> method, Arena arena) {
        this.layer = layer;
        this.weights = copy(original, arena);
        for (LinearModule m : LinearModule.values()) {
            pruners.put(m, method.get());
        }
    }

    public int layer() {
        return layer;
    }

    public DecoderLayerWeights weights() {
        return weights;
    }

    /** The ops that {@link #addBatch}-style accumulation uses during the next forward pass. */
    public LayerTap tapWith(TensorOps ops) {
        this.ops = ops;
        return this;
    }

    @Override
    public void attentionInput(int l, Tensor x) {
        feed(x, LinearModule.Input.ATTENTION);
    }

    @Override
    public void attentionOutput(int l, Tensor x) {
        feed(x, LinearModule.Input.ATTENTION_OUTPUT);
    }

    @Override
    public void mlpInput(int l, Tensor x) {
        feed(x, LinearModule.Input.MLP);
    }

    @Override
    public void downInput(int l, Tensor x) {
        feed(x, LinearModule.Input.DOWN);
    }

    private void feed(Tensor x, LinearModule.Input input) {
        for (LinearModule m : LinearModule.values()) {
            if (m.input() == input) {
                pruners.get(m).addBatch(x, ops);
            }
        }
    }

    /** The pruner (with its accumulated statistics) of one map. */
    public LinearPruner pruner(LinearModule module) {
        return pruners.get(module);
    }

    /** Prunes one map in place. */
    public LinearPruner.PruneOutcome prune(LinearModule module, SparsityPattern pattern, double sparsity, TensorOps ops) {
        return pruners.get(module).prune(module.weight(weights), pattern, sparsity, ops);
    }

    /** Writable F32 copies of every tensor of a layer. */
    public static DecoderLayerWeights copy(DecoderLayerWeights w, Arena arena) {
        return new DecoderLayerWeights(f32(w.inputNorm(), arena), f32(w.q(), arena), f32(w.k(), arena), f32(w.v(), arena),
                f32(w.o(), arena), f32(w.qBias(), arena), f32(w.kBias(), arena), f32(w.vBias(), arena), f32(w.oBias(), arena),
                f32(w.postAttentionNorm(), arena), f32(w.gate(), arena), f32(w.up(), arena), f32(w.down(), arena),
                f32(w.gateBias(), arena), f32(w.upBias(), arena), f32(w.downBias(), arena));
    }

    private static Tensor f32(Tensor t, Arena arena) {
        return t == null ? null : t.copyAs(arena, DType.F32);
    }
}
