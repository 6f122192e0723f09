package dev.espalier.engine.prune;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One decoder layer being pruned: writable F32 copies of its weights, one {@link LinearPruner} per linear map and,
 * when the method solves over Gram matrices or reconstruction errors are measured, one {@link GramStatistics} per
 * distinct input (q/k/v share the attention input's, gate/up the MLP input's). As a {@link LayerTap} it feeds them
 * with each map's inputs during the dense forward pass. Not thread-safe while accumulating; once accumulation is
 * over, different maps may be pruned concurrently (they share Grams read-only).
 */
public final class LayerPruningState implements LayerTap, LayerWork {
    private final int layer;
    private final DecoderLayerWeights weights; // writable copies: the pruned layer once every map is pruned
    private final PruningMethod method;
    private final SolveOrder order;
    private final SparsityPattern pattern;
    private double sparsity; // the job's target, or the layer's own rate from a global allocation (OWL)
    private final Map<LinearModule.Input, GramStatistics> grams = new EnumMap<>(LinearModule.Input.class);
    private final Map<LinearModule, LinearPruner> pruners = new EnumMap<>(LinearModule.class);
    private TensorOps ops;
    private Set<LinearModule.Input> active = EnumSet.allOf(LinearModule.Input.class);
    private boolean released;

    public LayerPruningState(
            int layer,
            DecoderLayerWeights original,
            PruningMethod method,
            boolean measureErrors,
            SolveOrder order,
            SparsityPattern pattern,
            double sparsity,
            Arena arena) {
        this.layer = layer;
        this.weights = copy(original, arena);
        this.method = method;
        this.order = order;
        this.pattern = pattern;
        this.sparsity = sparsity;
        if (method.usesGram() || measureErrors) {
            for (LinearModule.Input input : LinearModule.Input.values()) {
                grams.put(input, new GramStatistics(inputWidth(input)));
            }
        }
        for (LinearModule m : LinearModule.values()) {
            pruners.put(m, method.pruners().apply(grams.get(m.input())));
        }
    }

    @Override
    public int layer() {
        return layer;
    }

    @Override
    public DecoderLayerWeights weights() {
        return weights;
    }

    /** Sets this layer's sparsity (a global allocation's), before its first phase. */
    void sparsity(double layerSparsity) {
        this.sparsity = layerSparsity;
    }

    /** Runs the layer as pruned so far on a copy of {@code input}, feeding the maps of phase {@code phase}. */
    @Override
    public void accumulate(int phase, Tensor input, Tensor dense, LayerRunner runner, TensorOps ops) {
        try (Arena scratch = Arena.ofConfined()) {
            runner.run(weights, tapWith(ops, order.phases().get(phase)), input.copyAs(scratch, DType.F32));
        }
    }

    /** The layer is pruned: its Grams and pruners' statistics go now, before its outputs stream on. */
    @Override
    public void releaseStatistics() {
        close();
    }

    /** One {@link MatrixProblem} per map reading the inputs of phase {@code phase}. */
    @Override
    public List<LayerProblem> problems(int phase) {
        List<LayerProblem> problems = new ArrayList<>();
        for (LinearModule module : LinearModule.values()) {
            if (order.phases().get(phase).contains(module.input())) {
                problems.add(new MatrixProblem(
                        layer,
                        module,
                        module.weight(weights),
                        pruners.get(module),
                        grams.get(module.input()),
                        pattern,
                        sparsity));
            }
        }
        return problems;
    }

    /** The tap of the next forward pass: it accumulates the statistics of the maps reading {@code inputs}, on {@code ops}. */
    private LayerTap tapWith(TensorOps ops, Set<LinearModule.Input> inputs) {
        this.ops = ops;
        this.active = inputs;
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
        if (!active.contains(input)) {
            return;
        }
        GramStatistics gram = grams.get(input);
        if (gram != null) {
            gram.add(x, ops);
        }
        if (!method.usesGram()) {
            for (LinearModule m : LinearModule.values()) {
                if (m.input() == input) {
                    pruners.get(m).addBatch(x, ops);
                }
            }
        }
    }

    private int inputWidth(LinearModule.Input input) {
        return switch (input) {
            case ATTENTION, MLP -> weights.q().cols();
            case ATTENTION_OUTPUT -> weights.o().cols();
            case DOWN -> weights.down().cols();
        };
    }

    /** Frees the statistics (the weights stay: they belong to the arena given at construction); at most once. */
    @Override
    public void close() {
        if (released) {
            return;
        }
        released = true;
        for (LinearPruner p : pruners.values()) {
            if (p instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing the pruner of layer " + layer, e);
                }
            }
        }
        grams.values().forEach(GramStatistics::close);
    }

    /** Writable F32 copies of every tensor of a layer. */
    public static DecoderLayerWeights copy(DecoderLayerWeights w, Arena arena) {
        return new DecoderLayerWeights(
                f32(w.inputNorm(), arena),
                f32(w.q(), arena),
                f32(w.k(), arena),
                f32(w.v(), arena),
                f32(w.o(), arena),
                f32(w.qBias(), arena),
                f32(w.kBias(), arena),
                f32(w.vBias(), arena),
                f32(w.oBias(), arena),
                f32(w.postAttentionNorm(), arena),
                f32(w.gate(), arena),
                f32(w.up(), arena),
                f32(w.down(), arena),
                f32(w.gateBias(), arena),
                f32(w.upBias(), arena),
                f32(w.downBias(), arena));
    }

    private static Tensor f32(Tensor t, Arena arena) {
        return t == null ? null : t.copyAs(arena, DType.F32);
    }
}
