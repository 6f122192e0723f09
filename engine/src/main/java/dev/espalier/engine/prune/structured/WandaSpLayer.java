package dev.espalier.engine.prune.structured;

import dev.espalier.engine.forward.LayerTap;
import dev.espalier.engine.model.DecoderLayerWeights;
import dev.espalier.engine.prune.LayerProblem;
import dev.espalier.engine.prune.LayerRunner;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.kernels.Tensor;
import dev.espalier.kernels.TensorOps;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Map;

/**
 * Wanda-sp on one layer (FLAP's {@code prune_wanda_sp}): the column norms of the o_proj and down_proj inputs are
 * accumulated in one pass of the layer's inputs from the already pruned layers, then heads and channels are scored by
 * {@link WandaSpScores} and the lowest go; no bias compensation. With global widths, a scoring pass over the dense
 * model ranks the units first.
 */
final class WandaSpLayer extends StructuredLayer {
    private final Moments pruned = new Moments();
    private Moments scoring;

    WandaSpLayer(StructuredMethod method, int layer, DecoderLayerWeights dense, DecoderLayerWeights start, Arena arena) {
        super(method, layer, dense, start, arena);
    }

    /** Column moments of the o_proj and down_proj inputs. */
    private final class Moments implements LayerTap {
        final ColumnMoments attention = new ColumnMoments(denseDims.numHeads() * headDim());
        final ColumnMoments down = new ColumnMoments(denseDims.intermediateSize());

        @Override
        public void attentionOutput(int l, Tensor x) {
            attention.add(x);
        }

        @Override
        public void downInput(int l, Tensor x) {
            down.add(x);
        }

        double[] headScores(DecoderLayerWeights w) {
            return WandaSpScores.headScores(w.o(), attention, headDim());
        }

        double[] channelScores(DecoderLayerWeights w) {
            return WandaSpScores.channelScores(w.down(), down);
        }
    }

    @Override
    public void accumulate(int phase, Tensor input, Tensor denseInput, LayerRunner runner, TensorOps ops) {
        run(runner, weights, pruned, input);
    }

    @Override
    public List<LayerProblem> problems(int phase) {
        return List.of(new LayerProblem() {
            @Override
            public int layer() {
                return layer;
            }

            @Override
            public String name() {
                return "heads and channels";
            }

            @Override
            public Map<LinearModule, LinearPruner.PruneOutcome> solve(TensorOps ops) {
                compact(select(pruned.headScores(weights), pruned.channelScores(weights)));
                return outcomes(Map.of());
            }
        });
    }

    @Override
    protected LayerTap scoringTap(TensorOps ops) {
        if (scoring == null) {
            scoring = new Moments();
        }
        return scoring;
    }

    @Override
    public LayerScores scores(TensorOps ops) {
        return new LayerScores(layer, scoring.headScores(dense), scoring.channelScores(dense));
    }

    @Override
    public void close() {
        // moments are on-heap
    }
}
